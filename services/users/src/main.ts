import { join, resolve } from 'node:path';
import { z } from 'zod';
import {
  ConfigError,
  commonConfigShape,
  createLogger,
  createMetrics,
  exitOnSignals,
  gracefulShutdown,
  Lifecycle,
  loadConfig,
  openMetadataStore,
  openRateLimiters,
  setting,
  withAdapterRules,
} from '@capcheck/shared';
import { createApp } from './app';
import { usersConfigShape } from './config';
import { bcryptHasher } from './data-access/bcrypt-hasher';
import { createSigningKeyRing, importSigningKeys, loadOrCreateSigningKeyFile } from './data-access/signing-keys';

const schema = withAdapterRules(z.object({ ...commonConfigShape, ...usersConfigShape, PORT: setting.port(8081) }));

async function main(): Promise<void> {
  const config = loadConfig(schema);
  const logger = createLogger({ service: 'users', level: config.LOG_LEVEL });
  const metadata = await openMetadataStore(config);
  const rateLimiters = await openRateLimiters(config);
  const keys = config.JWT_SIGNING_KEYS
    ? await importSigningKeys(config.JWT_SIGNING_KEYS)
    : await loadOrCreateSigningKeyFile(join(resolve(config.DATA_DIR), 'keys', 'signing-keys.json'));
  const keyRing = createSigningKeyRing(keys, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
  const lifecycle = new Lifecycle();
  const app = createApp({
    config,
    metadata,
    rateLimiters,
    keyRing,
    passwords: bcryptHasher(config.BCRYPT_COST),
    logger,
    metrics: createMetrics(),
    lifecycle,
    trustProxy: config.TRUST_PROXY,
  });
  const server = app.listen(config.PORT, () => logger.info({ port: config.PORT }, 'users listening'));
  exitOnSignals(
    gracefulShutdown({
      server,
      lifecycle,
      logger,
      drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      closers: [
        { name: 'metadata', close: () => metadata.close() },
        { name: 'rate-limits', close: () => rateLimiters.close() },
      ],
    }),
    logger,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
