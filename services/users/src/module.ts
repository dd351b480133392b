import { type z } from 'zod';
import {
  storageDirsOf,
  openRateLimiters,
  rateLimitConfigShape,
  storeConfigShape,
  type AccessTokenVerifier,
  type Module,
  type RateLimiterFactory,
  type Shell,
} from '@capcheck/shared';
import { createUsersService } from './app';
import { usersConfigShape } from './config';
import { bcryptHasher } from './data-access/bcrypt-hasher';
import { loadSigningKeyRing, type SigningKeyRing } from './data-access/signing-keys';
import { openUsersStore } from './data-access/store';
import type { UsersStore } from './domain/ports';

/** Every setting the users service reads, and nothing else (a process adds its shell's and listener's). */
export const usersSettingsShape = { ...storeConfigShape, ...rateLimitConfigShape, ...usersConfigShape };
export type UsersModuleConfig = z.output<z.ZodObject<typeof usersSettingsShape>>;

/** The users service as a module of a process; the local process hands its verifier to the others. */
export interface UsersModule extends Module {
  verifier: AccessTokenVerifier;
  store: UsersStore;
  keyRing: SigningKeyRing;
}

/** Adapters opened elsewhere (the caller then closes them); the rest are opened from the settings. */
export interface UsersAdapters {
  store?: UsersStore;
  rateLimiters?: RateLimiterFactory;
  keyRing?: SigningKeyRing;
}

export async function openUsersModule(
  config: UsersModuleConfig,
  shell: Shell,
  given: UsersAdapters = {},
): Promise<UsersModule> {
  const store = given.store ?? (await openUsersStore(config));
  const rateLimiters = given.rateLimiters ?? (await openRateLimiters(config));
  const keyRing = given.keyRing ?? (await loadSigningKeyRing(config));
  const { router, verifier } = createUsersService({
    config,
    store,
    rateLimiters,
    keyRing,
    passwords: bcryptHasher(config.BCRYPT_COST),
  });
  return {
    name: 'users',
    verifier,
    store,
    keyRing,
    mount: (app) => app.use(router),
    storageDirs: storageDirsOf(config),
    readiness: [
      { name: 'metadata', check: () => store.ping() },
      { name: 'rate-limits', check: () => rateLimiters.ping() },
    ],
    closers: [
      ...(given.store ? [] : [{ name: 'users store', close: () => store.close() }]),
      ...(given.rateLimiters ? [] : [{ name: 'rate-limits', close: () => rateLimiters.close() }]),
    ],
  };
}
