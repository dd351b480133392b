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
import { createApp, startInferenceBackground } from './app';
import { imagesBreakerOf, inferenceConfigShape } from './config';
import { httpImageSource } from './data-access/image-source-http';
import { openInferenceStore } from './data-access/store';

const schema = withAdapterRules(
  z.object({
    ...commonConfigShape,
    ...blobConfigShape,
    ...eventsConfigShape,
    ...verifierConfigShape,
    ...inferenceConfigShape,
    IMAGES_URL: z.url().default('http://images:8082'),
    PORT: setting.port(8083),
    HOST: z.string().default('0.0.0.0'),
  }),
);

async function main(): Promise<void> {
  const config = loadConfig(schema);
  const logger = createLogger({ service: 'inference', level: config.LOG_LEVEL });
  const store = await openInferenceStore(config);
  const blobs = await openBlobStore(config);
  const metrics = createMetrics();
  const events = await openEventBus(config, logger, metrics);
  const lifecycle = new Lifecycle();
  const imagesBreaker = imagesBreakerOf(config);
  const { app, service } = createApp({
    config,
    store,
    blobs,
    imageSource: httpImageSource({
      baseUrl: config.IMAGES_URL,
      timeoutMs: config.IMAGES_TIMEOUT_MS,
      breaker: imagesBreaker,
    }),
    neighbours: [{ name: 'images', check: () => imagesBreaker.check() }],
    verifier: remoteVerifier(config),
    logger,
    metrics,
    lifecycle,
    ...shellSettings(config),
  });
  const stopBackground = await startInferenceBackground(service, events, logger);
  serve(app, {
    port: config.PORT,
    host: config.HOST,
    timeouts: serverTimeouts(config),
    listening: { service: 'inference' },
    lifecycle,
    logger,
    drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers: [
      { name: 'metadata', close: () => store.close() },
      { name: 'blobs', close: () => blobs.close() },
      { name: 'model', close: () => service.runtime.close() },
      { name: 'events', close: async () => (stopBackground(), events.close()) },
    ],
  });
}

main().catch(exitOnStartupFailure);
