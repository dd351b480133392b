import { z } from 'zod';
import {
  commonConfigShape,
  createLogger,
  createMetrics,
  exitOnStartupFailure,
  Lifecycle,
  loadConfig,
  openRateLimiters,
  serve,
  serverTimeouts,
  setting,
  shellSettings,
  withAdapterRules,
} from '@capcheck/shared';
import { createApp } from './app';
import { usersConfigShape } from './config';
import { bcryptHasher } from './data-access/bcrypt-hasher';
import { loadSigningKeyRing } from './data-access/signing-keys';
import { openUsersStore } from './data-access/store';

const schema = withAdapterRules(
  z.object({
    ...commonConfigShape,
    ...usersConfigShape,
    PORT: setting.port(8081),
    HOST: z.string().default('0.0.0.0'),
  }),
);

async function main(): Promise<void> {
  const config = loadConfig(schema);
  const logger = createLogger({ service: 'users', level: config.LOG_LEVEL });
  const store = await openUsersStore(config);
  const rateLimiters = await openRateLimiters(config);
  const lifecycle = new Lifecycle();
  const app = createApp({
    config,
    store,
    rateLimiters,
    keyRing: await loadSigningKeyRing(config),
    passwords: bcryptHasher(config.BCRYPT_COST),
    logger,
    metrics: createMetrics(),
    lifecycle,
    ...shellSettings(config),
  });
  serve(app, {
    port: config.PORT,
    host: config.HOST,
    timeouts: serverTimeouts(config),
    listening: { service: 'users' },
    lifecycle,
    logger,
    drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers: [
      { name: 'metadata', close: () => store.close() },
      { name: 'rate-limits', close: () => rateLimiters.close() },
    ],
  });
}

main().catch(exitOnStartupFailure);
