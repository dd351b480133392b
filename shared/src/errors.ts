/**
 * What went wrong, in domain terms. The HTTP layer maps a kind to a status; domain code never
 * speaks HTTP. `code` is stable and machine-readable, `message` is for people.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'rate_limited'
  | 'unavailable';

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly extra: { details?: unknown; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    // The cause stays for the logs; the error handler never sends it to the client.
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
  }
}

export const statusOfKind: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  unavailable: 503,
};

/** Raised by a repository when a unique key (e.g. an email) is already taken. */
export class DuplicateKeyError extends Error {
  override name = 'DuplicateKeyError';
}

/** Error codes that mean "no room left": a full disk or quota (Node), a full database (SQLite). */
const storageFullCodes = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** Whether an error, or any error it was caused by, says the storage is full. */
export function isStorageFull(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (storageFullCodes.has(String((e as { code?: unknown }).code))) return true;
  }
  return false;
}
