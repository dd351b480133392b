import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Email } from '@capcheck/shared';

/** bcrypt reads at most 72 bytes; anything longer would be silently cut, so it is refused instead. */
export const maxPasswordBytes = 72;
export const minPasswordLength = 8;

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, 'an email has at most 254 characters')
  .pipe(z.email('not a valid email address'))
  .transform((e) => e as Email);

export const newPasswordSchema = z
  .string()
  .min(minPasswordLength, `a password has at least ${minPasswordLength} characters`)
  .refine((p) => Buffer.byteLength(p, 'utf8') <= maxPasswordBytes, {
    message: `a password has at most ${maxPasswordBytes} bytes (UTF-8)`,
  });

/** Refresh tokens and API keys are 256 random bits, so a fast hash is enough to store them safely. */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');
export const randomSecret = (): string => randomBytes(32).toString('base64url');

export const apiKeyPrefix = 'cck_';
