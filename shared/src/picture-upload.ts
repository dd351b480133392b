import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import busboy from 'busboy';
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
 * the parser stops at the limit, so no upload is ever buffered whole. What the bytes are is decided
 * later, from the bytes themselves (see detectFormat).
 *
 * Parsed with busboy itself rather than through multer, whose layers around it cost a cached POST
 * /predict 0.06 of its 0.43 ms of CPU (`pnpm bench:cached`).
 */
export function pictureUpload(options: PictureUploadOptions): RequestHandler {
  const { field, maxBytes, maxFiles } = options;
  const one = maxFiles === 1;
  // busboy reports a limit when a count reaches it, so each allowance is one more than what is allowed
  // (as multer passes them): a file of exactly maxBytes, a 1 KB field, maxFiles + 5 parts all pass.
  const limits = {
    fileSize: maxBytes + 1,
    files: maxFiles,
    fields: 4,
    parts: maxFiles + 6,
    fieldSize: 1024 + 1,
    headerPairs: 50,
  };
  const raw = express.raw({ type: rawTypes, limit: maxBytes });
  const how = options.rawBody
    ? `send the picture as multipart/form-data (field "${field}") or as a raw ${rawTypes.join(', ')} body`
    : `send the ${one ? 'image' : 'pictures'} as multipart/form-data, field "${field}"`;
  const tooMany = one
    ? new AppError('invalid', 'too_many_files', 'send exactly one file')
    : new AppError('too_large', 'too_many_files', `at most ${maxFiles} pictures per request; send the rest in another`);
  const unexpectedField = new AppError(
    'invalid',
    'unexpected_field',
    one ? `the file must be in the field "${field}", alone` : `the pictures must be in the field "${field}"`,
  );
  const refusals: Record<MultipartRefusal, () => AppError> = {
    too_large: () => tooLarge(maxBytes),
    too_many: () => tooMany,
    unexpected_field: () => unexpectedField,
    unacceptable: () => new AppError('invalid', 'invalid_multipart', 'the multipart body is not acceptable'),
  };
  // e.g. a missing boundary, or busboy's "Malformed part header" for control characters in a file name
  const unreadable = (cause: unknown) =>
    new AppError('invalid', 'invalid_multipart', 'the multipart body could not be read', { cause });
  // Multipart headers and boundaries around each file.
  const maxBody = maxFiles * (maxBytes + 64 * 1024);

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
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBody) {
      next(tooLarge(maxBytes));
      return;
    }
    readMultipart(req, { field, limits, maxBody }, (outcome) => {
      if (Array.isArray(outcome)) {
        keep(outcome);
        return next();
      }
      next(typeof outcome === 'string' ? refusals[outcome]() : unreadable(outcome.error));
    });
  };
}

/** A limit or rule of the upload that a multipart body broke. */
type MultipartRefusal = 'too_large' | 'too_many' | 'unexpected_field' | 'unacceptable';

/** The pictures a multipart body carried, why it was refused, or why it could not be read. */
type MultipartOutcome = ReceivedPicture[] | MultipartRefusal | { error: unknown };

/**
 * Reads the files of `field` from a multipart body into memory, answering once: at the first limit
 * crossed (without reading the rest: the shell's error handler discards a bounded rest), or when the
 * body has ended. Other fields are read and ignored, within the limits.
 */
function readMultipart(
  req: Request,
  options: { field: string; limits: busboy.Limits; maxBody: number },
  done: (outcome: MultipartOutcome) => void,
): void {
  let parser: busboy.Busboy;
  try {
    // Browsers send file names as raw UTF-8; latin1 (busboy's default) would garble them.
    parser = busboy({ headers: req.headers, limits: options.limits, defParamCharset: 'utf8' });
  } catch (err) {
    done({ error: err });
    return;
  }
  const files: ReceivedPicture[] = [];
  let answered = false;
  // busboy skips whatever comes before the first boundary and after the last one: counting the body's
  // bytes as they arrive bounds those too.
  let received = 0;
  const count = (chunk: Buffer) => {
    received += chunk.length;
    if (received > options.maxBody) answer('too_large');
  };
  const answer = (outcome: MultipartOutcome) => {
    if (answered) return;
    answered = true;
    req.off('data', count);
    // Refused: the parser is left behind (destroying it would fail the file it is in the middle of).
    if (!Array.isArray(outcome)) req.unpipe(parser);
    done(outcome);
  };
  parser.on('file', (name, stream, info) => {
    // A body that ends inside a file part fails that part's stream too: the parser's own 'error' answers.
    stream.on('error', () => undefined);
    // A file input left empty in a browser form: a part without a file name, skipped as multer did.
    if (!info.filename) {
      stream.resume();
      return;
    }
    if (name !== options.field) {
      stream.resume();
      answer('unexpected_field');
      return;
    }
    const picture: ReceivedPicture = { bytes: Buffer.alloc(0), filename: info.filename };
    files.push(picture);
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('limit', () => answer('too_large'));
    stream.on('end', () => {
      picture.bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    });
  });
  parser.on('field', (_name, _value, info) => {
    if (info.nameTruncated || info.valueTruncated) answer('unacceptable');
  });
  parser.on('filesLimit', () => answer('too_many'));
  parser.on('fieldsLimit', () => answer('unacceptable'));
  parser.on('partsLimit', () => answer('unacceptable'));
  parser.on('error', (err) => answer({ error: err }));
  // After the last file's stream has ended.
  parser.on('close', () => answer(files));
  req.pipe(parser);
  req.on('data', count);
}
