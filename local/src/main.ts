import { join, resolve } from 'node:path';
import {
  ConfigError,
  createLogger,
  createMetrics,
  exitOnSignals,
  gracefulShutdown,
  Lifecycle,
  loadConfig,
  openBlobStore,
  openEventBus,
  openMetadataStore,
  openRateLimiters,
} from '@capcheck/shared';
import { bcryptHasher, createSigningKeyRing, importSigningKeys, loadOrCreateSigningKeyFile } from '@capcheck/users';
import { createLocalApp } from './app';
import { localConfigSchema } from './config';

async function main(): Promise<void> {
  const config = loadConfig(localConfigSchema);
  const logger = createLogger({ service: 'local', level: config.LOG_LEVEL });
  const dataDir = resolve(config.DATA_DIR);
  const metadata = await openMetadataStore(config);
  const rateLimiters = await openRateLimiters(config);
  const blobs = await openBlobStore(config);
  const events = await openEventBus(config, logger);
  const keys = config.JWT_SIGNING_KEYS
    ? await importSigningKeys(config.JWT_SIGNING_KEYS)
    : await loadOrCreateSigningKeyFile(join(dataDir, 'keys', 'signing-keys.json'));
  const keyRing = createSigningKeyRing(keys, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
  const lifecycle = new Lifecycle();
  const app = createLocalApp({
    config,
    metadata,
    rateLimiters,
    blobs,
    events,
    keyRing,
    passwords: bcryptHasher(config.BCRYPT_COST),
    logger,
    metrics: createMetrics(),
    lifecycle,
  });
  const server = app.listen(config.PORT, config.HOST, () =>
    logger.info({ url: `http://${config.HOST}:${config.PORT}`, dataDir }, 'capcheck is listening'),
  );
  exitOnSignals(
    gracefulShutdown({
      server,
      lifecycle,
      logger,
      drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      closers: [
        { name: 'metadata', close: () => metadata.close() },
        { name: 'rate-limits', close: () => rateLimiters.close() },
        { name: 'blobs', close: () => blobs.close() },
        { name: 'events', close: () => events.close() },
      ],
    }),
    logger,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
