import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import { AppError } from './errors';

/** A picture as a request carried it: its bytes and, from multipart, the client's file name. */
export interface ReceivedPicture {
  bytes: Buffer;
  filename?: string;
}

export interface PictureUploadOptions {
  /** The multipart field the pictures come in. */
  field: string;
  /** The largest picture, in bytes. */
  maxBytes: number;
  /** How many pictures one request may carry; more is a 413 (or, for 1, a 400: "send exactly one"). */
  maxFiles: number;
  /** Also take one picture as the whole body, sent as image/jpeg, image/png or image/webp. */
  rawBody?: boolean;
}

const rawTypes = ['image/jpeg', 'image/png', 'image/webp'];
const pictures = Symbol('pictures');
type WithPictures = Request & { [pictures]?: ReceivedPicture[] };

/** The pictures `pictureUpload` received, in the order they came. */
export const receivedPictures = (req: Request): ReceivedPicture[] => (req as WithPictures)[pictures] ?? [];

const tooLarge = (maxBytes: number) =>
  new AppError('too_large', 'file_too_large', `the file is larger than ${maxBytes} bytes`);

/**
 * Pictures from multipart/form-data (up to `maxFiles` files in `field`) or, with `rawBody`, one
 * picture as the whole body. A declared length over the limit is refused before reading; otherwise
 * multer stops at the limit, so no upload is ever buffered whole. What the bytes are is decided later,
 * from the bytes themselves (see detectFormat).
 */
export function pictureUpload(options: PictureUploadOptions): RequestHandler {
  const { field, maxBytes, maxFiles } = options;
  const one = maxFiles === 1;
  const parse = multer({
    storage: multer.memoryStorage(),
    // Browsers send file names as raw UTF-8; latin1 (multer's default) would garble them.
    defParamCharset: 'utf8',
    limits: { fileSize: maxBytes, files: maxFiles, fields: 4, parts: maxFiles + 5, fieldSize: 1024, headerPairs: 50 },
  });
  const multipart = one ? parse.single(field) : parse.array(field);
  const raw = express.raw({ type: rawTypes, limit: maxBytes });
  const how = options.rawBody
    ? `send the picture as multipart/form-data (field "${field}") or as a raw ${rawTypes.join(', ')} body`
    : `send the ${one ? 'image' : 'pictures'} as multipart/form-data, field "${field}"`;
  const tooMany = one
    ? new AppError('invalid', 'too_many_files', 'send exactly one file')
    : new AppError('too_large', 'too_many_files', `at most ${maxFiles} pictures per request; send the rest in another`);

  return (req: Request, res: Response, next: NextFunction) => {
    const keep = (list: ReceivedPicture[]) => ((req as WithPictures)[pictures] = list);
    if (options.rawBody && req.is(rawTypes)) {
      raw(req, res, (err: unknown) => {
        if ((err as { type?: string } | undefined)?.type === 'entity.too.large') {
          return next(tooLarge(maxBytes));
        }
        if (err) return next(err);
        keep(Buffer.isBuffer(req.body) && req.body.length > 0 ? [{ bytes: req.body }] : []);
        next();
      });
      return;
    }
    if (!req.is('multipart/form-data')) {
      next(new AppError('unsupported_media_type', 'expected_multipart', how));
      return;
    }
    // One answer per request, whichever speaks first: the declared length, the byte count or multer.
    let answered = false;
    const answer = (outcome?: AppError | null) => {
      if (answered) return;
      answered = true;
      req.off('data', count);
      // A refused body is not read to its end here: the shell's error handler discards a bounded rest.
      if (outcome) return next(outcome);
      const files = one ? (req.file ? [req.file] : []) : ((req.files as Express.Multer.File[] | undefined) ?? []);
      keep(files.map((f) => ({ bytes: f.buffer, filename: f.originalname })));
      next();
    };
    // multer only reports an oversized file when its part ends, i.e. after reading the whole body;
    // counting the bytes as they arrive answers at the limit.
    const slack = 64 * 1024; // multipart headers and boundaries around each file
    const maxBody = maxFiles * (maxBytes + slack);
    let received = 0;
    const count = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBody) answer(tooLarge(maxBytes));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBody) {
      answer(tooLarge(maxBytes));
      return;
    }
    multipart(req, res, (err: unknown) => {
      if (!err) return answer(null);
      if (err instanceof multer.MulterError) {
        switch (err.code) {
          case 'LIMIT_FILE_SIZE':
            return answer(tooLarge(maxBytes));
          case 'LIMIT_FILE_COUNT':
            return answer(tooMany);
          case 'LIMIT_UNEXPECTED_FILE':
            return answer(
              new AppError(
                'invalid',
                'unexpected_field',
                one
                  ? `the file must be in the field "${field}", alone`
                  : `the pictures must be in the field "${field}"`,
              ),
            );
          default:
            return answer(new AppError('invalid', 'invalid_multipart', 'the multipart body is not acceptable'));
        }
      }
      // e.g. busboy's "Malformed part header" for control characters in a file name
      answer(new AppError('invalid', 'invalid_multipart', 'the multipart body could not be read'));
    });
    // Attached after multer has piped the request, so both see every chunk.
    req.on('data', count);
  };
}
