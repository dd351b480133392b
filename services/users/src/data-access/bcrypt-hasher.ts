import bcrypt from 'bcrypt';
import { fitsBcrypt } from '../domain/credentials';
import type { PasswordHasher } from '../domain/ports';

/**
 * bcrypt runs on libuv's thread pool, so hashing does not block the event loop. It would compare only the
 * first 72 bytes; a longer password never matches here, whichever caller forgot the schema.
 */
export const bcryptHasher = (cost: number): PasswordHasher => ({
  hash: (password) => {
    if (!fitsBcrypt(password)) return Promise.reject(new Error('a password over 72 bytes cannot be hashed by bcrypt'));
    return bcrypt.hash(password, cost);
  },
  verify: async (password, hash) => fitsBcrypt(password) && bcrypt.compare(password, hash),
});
