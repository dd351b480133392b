import { type z } from 'zod';
import {
  storageDirsOf,
  blobConfigShape,
  eventsConfigShape,
  openBlobStore,
  openEventBus,
  remoteVerifier,
  usersBreakerOf,
  usersReadiness,
  storeConfigShape,
  verifierConfigShape,
  type AccessTokenVerifier,
  type BlobStore,
  type EventBus,
  type Module,
  type Shell,
} from '@capcheck/shared';
import { createInferenceService, inferenceOwnBodyPaths, startInferenceBackground, type InferenceService } from './app';
import { imagesBreakerOf, inferenceConfigShape } from './config';
import { httpImageSource } from './data-access/image-source-http';
import { openInferenceStore } from './data-access/store';
import type { ImageSource, InferenceStore } from './domain/ports';

/** Every setting the inference service reads, and nothing else (a process adds its shell's and listener's). */
export const inferenceSettingsShape = {
  ...storeConfigShape,
  ...blobConfigShape,
  ...eventsConfigShape,
  ...verifierConfigShape,
  ...inferenceConfigShape,
};
export type InferenceModuleConfig = z.output<z.ZodObject<typeof inferenceSettingsShape>>;

export interface InferenceModule extends Module {
  service: InferenceService;
  store: InferenceStore;
}

/**
 * Adapters opened elsewhere (the caller then closes them): in the local process the bus, the users
 * service's verifier and an in-process image source. The rest are opened from the settings.
 */
export interface InferenceAdapters {
  store?: InferenceStore;
  blobs?: BlobStore;
  events?: EventBus;
  verifier?: AccessTokenVerifier;
  imageSource?: ImageSource;
}

/** The inference service as a module, with its event consumers and log pruning running. */
export async function openInferenceModule(
  config: InferenceModuleConfig,
  shell: Shell,
  given: InferenceAdapters = {},
): Promise<InferenceModule> {
  const store = given.store ?? (await openInferenceStore(config));
  const blobs = given.blobs ?? (await openBlobStore(config));
  const events = given.events ?? (await openEventBus(config, shell.logger, shell.metrics));
  // Alone, inference reads images over HTTP, behind a deadline and a circuit breaker that readiness reports.
  const imagesBreaker = given.imageSource ? undefined : imagesBreakerOf(config);
  const usersBreaker = given.verifier ? undefined : usersBreakerOf(config);
  const imageSource =
    given.imageSource ??
    httpImageSource({ baseUrl: config.IMAGES_URL, timeoutMs: config.IMAGES_TIMEOUT_MS, breaker: imagesBreaker });
  const service = createInferenceService({
    config,
    store,
    blobs,
    imageSource,
    verifier: given.verifier ?? remoteVerifier(config, usersBreaker),
    logger: shell.logger,
    metrics: shell.metrics,
  });
  const stopBackground = await startInferenceBackground(service, events, shell.logger, config.INFERENCE_QUEUE_PREFIX);
  return {
    name: 'inference',
    service,
    store,
    mount: (app) => app.use(service.router),
    ownBodyPaths: inferenceOwnBodyPaths,
    storageDirs: storageDirsOf(config),
    readiness: [
      { name: 'model', check: () => service.runtime.check() },
      { name: 'metadata', check: () => store.ping() },
      ...(imagesBreaker ? [{ name: 'images', check: () => imagesBreaker.check() }] : []),
      ...(usersBreaker ? [usersReadiness(usersBreaker)] : []),
    ],
    closers: [
      ...(given.store ? [] : [{ name: 'inference store', close: () => store.close() }]),
      ...(given.blobs ? [] : [{ name: 'blobs', close: () => blobs.close() }]),
      // A running adaptation gets a few seconds to write its version before the model it reads closes.
      { name: 'adaptations', close: () => service.adaptations.drain(10_000) },
      { name: 'model', close: () => service.runtime.close() },
      { name: 'consumers', close: async () => stopBackground() },
      ...(given.events ? [] : [{ name: 'events', close: () => events.close() }]),
    ],
  };
}
