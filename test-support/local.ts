import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createFilesystemBlobStore,
  createLogger,
  createMemoryRateLimiters,
  createMetrics,
  defaultSqlitePath,
  Lifecycle,
  loadConfig,
  openEventBus,
  serverTimeouts,
  type BlobStore,
  type EventBus,
  type RateLimiterFactory,
  remoteVerifier,
  verifierConfigShape,
} from '@capcheck/shared';
import {
  bcryptHasher,
  createSqliteUsersStore,
  createSigningKeyRing,
  generateSigningJwks,
  importSigningKeys,
  type SigningKeyRing,
} from '@capcheck/users';
import { createLocalApp, localConfigSchema, type LocalDeps } from '@capcheck/local';
import type { Express } from 'express';
import { createApp as createImagesApp, createSqliteImagesStore, imagesConfigShape } from '@capcheck/images';
import { z } from 'zod';
import { createSqliteInferenceStore, type InferenceService } from '@capcheck/inference';
import { client, listen, type Client, type Started } from './http';

export interface LocalSystem extends Started {
  app: Express;
  inference: InferenceService;
  blobs: BlobStore;
  events: EventBus;
  api: Client;
  stores: LocalDeps['stores'];
  keyRing: SigningKeyRing;
  lifecycle: Lifecycle;
  dataDir: string;
}

/**
 * The whole local process, in-process on a random port, on its embedded adapters in a fresh temp
 * directory. `env` overrides settings exactly as the environment would.
 */
export async function startLocal(
  env: Record<string, string> = {},
  adapters: { events?: EventBus; blobs?: BlobStore; rateLimiters?: RateLimiterFactory } = {},
  dataDir = mkdtempSync(join(tmpdir(), 'capcheck-test-')),
): Promise<LocalSystem> {
  const config = loadConfig(localConfigSchema, {
    DATA_DIR: dataDir,
    BCRYPT_COST: '4',
    LOG_LEVEL: 'silent',
    REGISTRATIONS_PER_IP_PER_HOUR: '10000',
    LOGIN_ATTEMPTS_PER_IP: '10000',
    INFERENCE_WORKERS: '1',
    ...env,
  });
  const sqlitePath = defaultSqlitePath(dataDir);
  const stores = {
    users: createSqliteUsersStore(sqlitePath),
    images: createSqliteImagesStore(sqlitePath),
    inference: createSqliteInferenceStore(sqlitePath),
  };
  const keyRing = createSigningKeyRing(
    await importSigningKeys(config.JWT_SIGNING_KEYS ?? JSON.stringify(await generateSigningJwks())),
    { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE },
  );
  const lifecycle = new Lifecycle();
  const blobs = adapters.blobs ?? (await createFilesystemBlobStore(join(dataDir, 'blobs')));
  const logger = createLogger({ service: 'test', level: 'silent' });
  const metrics = createMetrics();
  const events = adapters.events ?? (await openEventBus(config, logger, metrics));
  const { app, inference } = createLocalApp({
    blobs,
    events,
    config,
    stores,
    rateLimiters: adapters.rateLimiters ?? createMemoryRateLimiters(),
    keyRing,
    passwords: bcryptHasher(config.BCRYPT_COST),
    logger,
    metrics,
    lifecycle,
  });
  await inference.runtime.ready;
  const started = await listen(app, serverTimeouts(config));
  return {
    ...started,
    app,
    inference,
    blobs,
    events,
    api: client(started.baseUrl),
    stores,
    keyRing,
    lifecycle,
    dataDir,
    async close() {
      await started.close();
      await inference.runtime.close();
      await events.close();
      await blobs.close();
      await Promise.all([stores.users.close(), stores.images.close(), stores.inference.close()]);
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
): Promise<Started> {
  const config = loadConfig(z.object({ ...verifierConfigShape, ...imagesConfigShape }), {
    JWKS_URL: `${usersUrl}/.well-known/jwks.json`,
    USERS_URL: usersUrl,
    // Its own key-set file, never one left behind by another run.
    JWKS_CACHE_FILE: join(mkdtempSync(join(tmpdir(), 'capcheck-jwks-')), 'jwks-cache.json'),
    ...env,
  });
  return listen(
    createImagesApp({
      config,
      store: sys.stores.images,
      blobs: sys.blobs,
      events: sys.events,
      verifier: remoteVerifier(config),
      logger: createLogger({ service: 'images', level: 'silent' }),
      metrics: createMetrics(),
      lifecycle: new Lifecycle(),
      trustProxy: false,
    }),
  );
}
