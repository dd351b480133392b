import { z } from 'zod';
import {
  blobConfigShape,
  commonConfigShape,
  createLogger,
  createMetrics,
  eventsConfigShape,
  exitOnStartupFailure,
  Lifecycle,
  loadConfig,
  openBlobStore,
  openEventBus,
  remoteVerifier,
  serve,
  serverTimeouts,
  setting,
  shellSettings,
  verifierConfigShape,
  withAdapterRules,
} from '@capcheck/shared';
import { createApp } from './app';
import { imagesConfigShape } from './config';
import { openImagesStore } from './data-access/store';

const schema = withAdapterRules(
  z.object({
    ...commonConfigShape,
    ...blobConfigShape,
    ...eventsConfigShape,
    ...verifierConfigShape,
    ...imagesConfigShape,
    PORT: setting.port(8082),
    HOST: z.string().default('0.0.0.0'),
  }),
);

async function main(): Promise<void> {
  const config = loadConfig(schema);
  const logger = createLogger({ service: 'images', level: config.LOG_LEVEL });
  const store = await openImagesStore(config);
  const blobs = await openBlobStore(config);
  const metrics = createMetrics();
  const events = await openEventBus(config, logger, metrics);
  const lifecycle = new Lifecycle();
  const app = createApp({
    config,
    store,
    blobs,
    events,
    verifier: remoteVerifier(config),
    logger,
    metrics,
    lifecycle,
    ...shellSettings(config),
  });
  serve(app, {
    port: config.PORT,
    host: config.HOST,
    timeouts: serverTimeouts(config),
    listening: { service: 'images' },
    lifecycle,
    logger,
    drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers: [
      { name: 'metadata', close: () => store.close() },
      { name: 'blobs', close: () => blobs.close() },
      { name: 'events', close: () => events.close() },
    ],
  });
}

main().catch(exitOnStartupFailure);
