import { readFile, rm } from 'node:fs/promises';
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import { z } from 'zod';
import {
  AppError,
  isStorageFull,
  parseId,
  principalOf,
  requireAuth,
  type AccessTokenVerifier,
  type ImageId,
} from '@capcheck/shared';
import type { ImageRecord } from '../../domain/ports';
import type { ImagesDomain } from '../../domain/images';

/** The path space this service owns; the gateway routes these prefixes here. */
export const imagesPathPrefixes = ['/images'];

const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export const imageView = (i: ImageRecord) => ({
  id: i.id,
  filename: i.filename,
  format: i.format,
  width: i.width,
  height: i.height,
  sizeBytes: i.sizeBytes,
  sha256: i.sha256,
  createdAt: i.createdAt.toISOString(),
});

const tagService: RequestHandler = (_req, res, next) => {
  res.locals.service = 'images';
  next();
};

const tooLargeError = (maxBytes: number) =>
  new AppError('too_large', 'file_too_large', `the file is larger than ${maxBytes} bytes`);

/** How uploads are received: size limit, where bytes wait while they arrive, how many at once. */
export interface UploadLimits {
  maxBytes: number;
  tmpDir: string;
  maxPerUser: number;
  maxPerProcess: number;
}

const retryUploadAfterSeconds = 2;

/**
 * An upload in progress holds a connection and a temporary file; a client (or a crowd) opening many at
 * once is refused before any byte is read, so one user cannot take every slot.
 */
function uploadSlots(limits: UploadLimits): RequestHandler {
  const byUser = new Map<string, number>();
  let total = 0;
  return (req, res, next) => {
    const user = principalOf(req).userId;
    const mine = byUser.get(user) ?? 0;
    if (mine >= limits.maxPerUser) {
      next(
        new AppError('rate_limited', 'too_many_uploads', `at most ${limits.maxPerUser} uploads at a time per user`, {
          retryAfterSeconds: retryUploadAfterSeconds,
        }),
      );
      return;
    }
    if (total >= limits.maxPerProcess) {
      next(
        new AppError('unavailable', 'uploads_busy', 'too many uploads in progress, try again shortly', {
          retryAfterSeconds: retryUploadAfterSeconds,
        }),
      );
      return;
    }
    byUser.set(user, mine + 1);
    total += 1;
    res.once('close', () => {
      total -= 1;
      const left = (byUser.get(user) ?? 1) - 1;
      if (left > 0) byUser.set(user, left);
      else byUser.delete(user);
    });
    next();
  };
}

/**
 * multipart/form-data with exactly one file in field `image`. A declared length over the limit is
 * refused before reading; otherwise multer stops at the limit. The bytes go to a temporary file as
 * they arrive, so a slow or stalled upload holds no memory; the route reads the finished file.
 */
function singleImageUpload(limits: UploadLimits): RequestHandler {
  const { maxBytes } = limits;
  const parse = multer({
    storage: multer.diskStorage({ destination: limits.tmpDir }),
    // Browsers send file names as raw UTF-8; latin1 (multer's default) would garble them.
    defParamCharset: 'utf8',
    limits: { fileSize: maxBytes, files: 1, fields: 4, parts: 6, fieldSize: 1024, headerPairs: 50 },
  }).single('image');
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.is('multipart/form-data')) {
      next(
        new AppError(
          'unsupported_media_type',
          'expected_multipart',
          'send the image as multipart/form-data, field "image"',
        ),
      );
      return;
    }
    // One answer per request, whichever speaks first: the declared length, the byte count or multer.
    const tooLarge = Symbol('too large');
    let answered = false;
    const answer = (outcome?: unknown) => {
      if (answered) return;
      answered = true;
      req.off('data', count);
      // An oversized body is not read to its end: the shell's error handler discards a bounded rest, then closes.
      next(outcome === tooLarge ? tooLargeError(maxBytes) : outcome);
    };
    // multer only reports an oversized file when its part ends, i.e. after reading the whole body;
    // counting the bytes as they arrive answers at the limit.
    const slack = 64 * 1024; // multipart headers and boundaries around the file
    let received = 0;
    const count = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes + slack) answer(tooLarge);
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes + slack) {
      answer(tooLarge);
      return;
    }
    parse(req, res, (err: unknown) => {
      // Already refused for its size while multer was still writing: the finished file is not wanted.
      if (answered) return void removeTemporaryFile(req);
      if (!err) return answer();
      if (err instanceof multer.MulterError) {
        switch (err.code) {
          case 'LIMIT_FILE_SIZE':
            return answer(tooLarge);
          case 'LIMIT_FILE_COUNT':
            return answer(new AppError('invalid', 'too_many_files', 'send exactly one file'));
          case 'LIMIT_UNEXPECTED_FILE':
            return answer(new AppError('invalid', 'unexpected_field', 'the file must be in the field "image", alone'));
          default:
            return answer(new AppError('invalid', 'invalid_multipart', 'the multipart body is not acceptable'));
        }
      }
      // The temporary file could not be written: the server's fault, not the body's (507).
      if (isStorageFull(err)) return answer(err);
      // e.g. busboy's "Malformed part header" for control characters in a file name
      answer(new AppError('invalid', 'invalid_multipart', 'the multipart body could not be read'));
    });
    // Attached after multer has piped the request, so both see every chunk.
    req.on('data', count);
  };
}

const removeTemporaryFile = (req: Request) => (req.file ? rm(req.file.path, { force: true }) : Promise.resolve());

export function createImagesRouter(deps: {
  domain: ImagesDomain;
  verifier: AccessTokenVerifier;
  uploads: UploadLimits;
}): Router {
  const { domain } = deps;
  const router = Router();
  router.use(imagesPathPrefixes, tagService, requireAuth(deps.verifier));

  router.post('/images', uploadSlots(deps.uploads), singleImageUpload(deps.uploads), async (req, res) => {
    if (!req.file) throw new AppError('invalid', 'missing_file', 'no file in the field "image"');
    try {
      const record = await domain.upload(principalOf(req), {
        bytes: await readFile(req.file.path),
        originalName: req.file.originalname,
      });
      res.status(201).location(`/images/${record.id}`).json(imageView(record));
    } finally {
      await removeTemporaryFile(req);
    }
  });

  router.get('/images', async (req, res) => {
    const page = await domain.list(principalOf(req), pageQuery.parse(req.query));
    res.json({ items: page.items.map(imageView), nextCursor: page.nextCursor });
  });

  router.get('/images/:id', async (req, res) => {
    res.json(imageView(await domain.get(principalOf(req), parseId<ImageId>(String(req.params.id)))));
  });

  router.get('/images/:id/content', async (req, res) => {
    const { record, bytes, mimeType } = await domain.content(principalOf(req), parseId<ImageId>(String(req.params.id)));
    res
      .status(200)
      .set({
        'Content-Type': mimeType,
        'Content-Length': String(bytes.length),
        ETag: `"${record.sha256}"`,
        'Cache-Control': 'private, max-age=3600',
        'Content-Security-Policy': "default-src 'none'",
        'Content-Disposition': `inline; filename*=UTF-8''${encodeURIComponent(record.filename)}`,
      })
      .end(bytes);
  });

  router.delete('/images/:id', async (req, res) => {
    await domain.delete(principalOf(req), parseId<ImageId>(String(req.params.id)));
    res.status(204).end();
  });

  return router;
}
