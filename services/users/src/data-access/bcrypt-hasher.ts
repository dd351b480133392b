import bcrypt from 'bcrypt';
import type { PasswordHasher } from '../domain/ports';

/** bcrypt runs on libuv's thread pool, so hashing does not block the event loop. */
export const bcryptHasher = (cost: number): PasswordHasher => ({
  hash: (password) => bcrypt.hash(password, cost),
  verify: (password, hash) => bcrypt.compare(password, hash),
});
