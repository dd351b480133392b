import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createFilesystemBlobStore,
  createLogger,
  createMemoryRateLimiters,
  createMetrics,
  createSqliteMetadataStore,
  Lifecycle,
  loadConfig,
  openEventBus,
  type BlobStore,
  type EventBus,
  type MetadataStore,
} from '@capcheck/shared';
import {
  bcryptHasher,
  createSigningKeyRing,
  generateSigningJwks,
  importSigningKeys,
  type SigningKeyRing,
} from '@capcheck/users';
import { createLocalApp, localConfigSchema } from '@capcheck/local';
import type { Express } from 'express';
import type { InferenceService } from '@capcheck/inference';
import { client, listen, type Client, type Started } from './http';

export interface LocalSystem extends Started {
  app: Express;
  inference: InferenceService;
  blobs: BlobStore;
  events: EventBus;
  api: Client;
  metadata: MetadataStore;
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
  adapters: { events?: EventBus; blobs?: BlobStore } = {},
): Promise<LocalSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), 'capcheck-test-'));
  const config = loadConfig(localConfigSchema, {
    DATA_DIR: dataDir,
    BCRYPT_COST: '4',
    LOG_LEVEL: 'silent',
    REGISTRATIONS_PER_IP_PER_HOUR: '10000',
    LOGIN_ATTEMPTS_PER_IP: '10000',
    INFERENCE_WORKERS: '1',
    ...env,
  });
  const metadata = createSqliteMetadataStore(join(dataDir, 'capcheck.sqlite'));
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
    metadata,
    rateLimiters: createMemoryRateLimiters(),
    keyRing,
    passwords: bcryptHasher(config.BCRYPT_COST),
    logger,
    metrics,
    lifecycle,
  });
  await inference.runtime.ready;
  const started = await listen(app);
  return {
    ...started,
    app,
    inference,
    blobs,
    events,
    api: client(started.baseUrl),
    metadata,
    keyRing,
    lifecycle,
    dataDir,
    async close() {
      await started.close();
      await inference.runtime.close();
      await events.close();
      await blobs.close();
      await metadata.close();
    },
  };
}

export const password = 'correct horse battery';

/** Registers and logs in a fresh user; returns its tokens. */
export async function signUp(api: Client, email: string) {
  const registered = await api.post<{ id: string; role: string }>('/auth/register', { json: { email, password } });
  if (registered.status !== 201) throw new Error(`register failed: ${registered.status}`);
  const login = await api.post<{ accessToken: string; refreshToken: string }>('/auth/login', {
    json: { email, password },
  });
  if (login.status !== 200) throw new Error(`login failed: ${login.status}`);
  return { id: registered.body.id, role: registered.body.role, ...login.body };
}
