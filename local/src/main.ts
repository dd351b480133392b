import { resolve } from 'node:path';
import {
  createLogger,
  createMetrics,
  exitOnStartupFailure,
  Lifecycle,
  loadConfig,
  openBlobStore,
  openEventBus,
  openMetadataStore,
  openRateLimiters,
  serve,
} from '@capcheck/shared';
import { bcryptHasher, loadSigningKeyRing } from '@capcheck/users';
import { startInferenceBackground } from '@capcheck/inference';
import { createLocalApp } from './app';
import { localConfigSchema } from './config';

async function main(): Promise<void> {
  const config = loadConfig(localConfigSchema);
  const logger = createLogger({ service: 'local', level: config.LOG_LEVEL });
  const metadata = await openMetadataStore(config);
  const rateLimiters = await openRateLimiters(config);
  const blobs = await openBlobStore(config);
  const metrics = createMetrics();
  const events = await openEventBus(config, logger, metrics);
  const lifecycle = new Lifecycle();
  const { app, inference } = createLocalApp({
    config,
    metadata,
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
    listening: { service: 'capcheck', dataDir: resolve(config.DATA_DIR) },
    lifecycle,
    logger,
    drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers: [
      { name: 'metadata', close: () => metadata.close() },
      { name: 'rate-limits', close: () => rateLimiters.close() },
      { name: 'blobs', close: () => blobs.close() },
      { name: 'model', close: () => inference.runtime.close() },
      { name: 'events', close: async () => (stopBackground(), events.close()) },
    ],
  });
}

main().catch(exitOnStartupFailure);
