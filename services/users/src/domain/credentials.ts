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

export const fitsBcrypt = (password: string): boolean => Buffer.byteLength(password, 'utf8') <= maxPasswordBytes;
const fitsBcryptRule = [fitsBcrypt, { message: `a password has at most ${maxPasswordBytes} bytes (UTF-8)` }] as const;

export const newPasswordSchema = z
  .string()
  .min(minPasswordLength, `a password has at least ${minPasswordLength} characters`)
  .refine(...fitsBcryptRule);

/**
 * A password offered at login: no new-password rules (a wrong password of any shape is just wrong), but the
 * same byte limit as registration, so "the first 72 bytes followed by anything" is refused, not accepted.
 */
export const offeredPasswordSchema = z
  .string()
  .min(1)
  .refine(...fitsBcryptRule);

/** Refresh tokens and API keys are 256 random bits, so a fast hash is enough to store them safely. */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');
export const randomSecret = (): string => randomBytes(32).toString('base64url');

export const apiKeyPrefix = 'cck_';
