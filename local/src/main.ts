import { resolve } from 'node:path';
import {
  createLogger,
  createMetrics,
  exitOnStartupFailure,
  Lifecycle,
  loadConfig,
  openBlobStore,
  openEventBus,
  openRateLimiters,
  serve,
  serverTimeouts,
} from '@capcheck/shared';
import { bcryptHasher, loadSigningKeyRing, openUsersStore } from '@capcheck/users';
import { openImagesStore } from '@capcheck/images';
import { openInferenceStore, startInferenceBackground } from '@capcheck/inference';
import { createLocalApp } from './app';
import { localConfigSchema } from './config';

async function main(): Promise<void> {
  const config = loadConfig(localConfigSchema);
  const logger = createLogger({ service: 'local', level: config.LOG_LEVEL });
  const stores = {
    users: await openUsersStore(config),
    images: await openImagesStore(config),
    inference: await openInferenceStore(config),
  };
  const rateLimiters = await openRateLimiters(config);
  const blobs = await openBlobStore(config);
  const metrics = createMetrics();
  const events = await openEventBus(config, logger, metrics);
  const lifecycle = new Lifecycle();
  const { app, inference } = createLocalApp({
    config,
    stores,
    rateLimiters,
    blobs,
    events,
    keyRing: await loadSigningKeyRing(config),
    passwords: bcryptHasher(config.BCRYPT_COST),
    logger,
    metrics,
    lifecycle,
  });
  const stopBackground = await startInferenceBackground(inference, events, logger);
  serve(app, {
    port: config.PORT,
    host: config.HOST,
    timeouts: serverTimeouts(config),
    listening: { service: 'capcheck', dataDir: resolve(config.DATA_DIR) },
    lifecycle,
    logger,
    drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers: [
      { name: 'users store', close: () => stores.users.close() },
      { name: 'images store', close: () => stores.images.close() },
      { name: 'inference store', close: () => stores.inference.close() },
      { name: 'rate-limits', close: () => rateLimiters.close() },
      { name: 'blobs', close: () => blobs.close() },
      { name: 'model', close: () => inference.runtime.close() },
      { name: 'events', close: async () => (stopBackground(), events.close()) },
    ],
  });
}

main().catch(exitOnStartupFailure);
