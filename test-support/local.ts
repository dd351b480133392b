import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  createShell,
  loadConfig,
  serverTimeouts,
  shellConfigShape,
  type BlobStore,
  type EventBus,
  type RateLimiterFactory,
} from '@capcheck/shared';
import type { UsersStore } from '@capcheck/users';
import { imagesSettingsShape, openImagesModule, type ImagesStore } from '@capcheck/images';
import type { InferenceService, InferenceStore } from '@capcheck/inference';
import { localConfigSchema, openLocalModules } from '@capcheck/local';
import type { Express } from 'express';
import { client, type Client, type Started } from './http';
import { serveModules, testDefaults, type RunningModules } from './services';

export interface LocalSystem extends Started {
  app: Express;
  inference: InferenceService;
  blobs: BlobStore;
  events: EventBus;
  api: Client;
  stores: { users: UsersStore; images: ImagesStore; inference: InferenceStore };
  dataDir: string;
}

/**
 * The whole local process (its "all" target, as `local/src/main.ts` opens it), in-process on a random
 * port, on its embedded adapters in a fresh temp directory (or the one given). `env` overrides
 * settings exactly as the environment would; `adapters` replaces the bus or the blob store.
 */
export async function startLocal(
  env: Record<string, string> = {},
  adapters: { events?: EventBus; blobs?: BlobStore; rateLimiters?: RateLimiterFactory } = {},
  dataDir = mkdtempSync(join(tmpdir(), 'capcheck-test-')),
): Promise<LocalSystem> {
  const config = loadConfig(localConfigSchema, {
    DATA_DIR: dataDir,
    REGISTRATIONS_PER_IP_PER_HOUR: '10000',
    LOGIN_ATTEMPTS_PER_IP: '10000',
    ...testDefaults,
    ...env,
  });
  const shell = createShell(config, 'test');
  const modules = await openLocalModules(config, shell, adapters);
  await modules.inference.service.runtime.ready;
  const running = await serveModules('local', shell, modules.all, serverTimeouts(config));
  return {
    ...running,
    api: client(running.baseUrl),
    inference: modules.inference.service,
    blobs: modules.images.blobs,
    events: modules.events,
    stores: { users: modules.users.store, images: modules.images.store, inference: modules.inference.store },
    dataDir,
    async close() {
      await running.close();
      // What the test handed in is closed too: every test's system ends with it.
      await adapters.events?.close();
      await adapters.blobs?.close();
    },
  };
}

export { password, signUp } from './services';

/**
 * The images service as deployed alone, on the local system's stores, verifying tokens through the
 * users service at `usersUrl` (its JWKS and the account check). Each call is a fresh process's worth of
 * state: a new verifier with nothing in memory.
 */
export async function startStandaloneImages(
  sys: LocalSystem,
  usersUrl: string,
  env: Record<string, string> = {},
): Promise<RunningModules> {
  const config = loadConfig(z.object({ ...shellConfigShape, ...imagesSettingsShape }), {
    LOG_LEVEL: 'silent',
    DATA_DIR: sys.dataDir,
    JWKS_URL: `${usersUrl}/.well-known/jwks.json`,
    USERS_URL: usersUrl,
    // Its own key-set file, never one left behind by another run.
    JWKS_CACHE_FILE: join(mkdtempSync(join(tmpdir(), 'capcheck-jwks-')), 'jwks-cache.json'),
    ...env,
  });
  const shell = createShell(config, 'images');
  // The local system's adapters: this process opens none of its own, so closing it closes none of them.
  const images = await openImagesModule(config, shell, {
    store: sys.stores.images,
    blobs: sys.blobs,
    events: sys.events,
  });
  return serveModules('images', shell, [images]);
}
