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
import { createImagesService } from './app';
import { scheduleBlobSweeps } from './domain/blob-sweeper';
import { imagesConfigShape } from './config';
import { openImagesStore } from './data-access/store';
import type { ImagesDomain } from './domain/images';
import type { ImagesStore } from './domain/ports';
import { promSweepReporter } from './telemetry';

/** Every setting the images service reads, and nothing else (a process adds its shell's and listener's). */
export const imagesSettingsShape = {
  ...storeConfigShape,
  ...blobConfigShape,
  ...eventsConfigShape,
  ...verifierConfigShape,
  ...imagesConfigShape,
};
export type ImagesModuleConfig = z.output<z.ZodObject<typeof imagesSettingsShape>>;

/** The images service as a module; the local process reads images for inference through its domain. */
export interface ImagesModule extends Module {
  domain: ImagesDomain;
  store: ImagesStore;
  blobs: BlobStore;
  events: EventBus;
}

/**
 * Adapters opened elsewhere (the caller then closes them): in the local process the bus and the
 * users service's verifier are shared. The rest are opened from the settings.
 */
export interface ImagesAdapters {
  store?: ImagesStore;
  blobs?: BlobStore;
  events?: EventBus;
  verifier?: AccessTokenVerifier;
}

export async function openImagesModule(
  config: ImagesModuleConfig,
  shell: Shell,
  given: ImagesAdapters = {},
): Promise<ImagesModule> {
  const store = given.store ?? (await openImagesStore(config));
  const blobs = given.blobs ?? (await openBlobStore(config));
  const events = given.events ?? (await openEventBus(config, shell.logger, shell.metrics));
  // Alone, images checks accounts with users behind a deadline and a circuit breaker that readiness reports.
  const usersBreaker = given.verifier ? undefined : usersBreakerOf(config);
  const { router, domain, sweeper } = createImagesService({
    config,
    store,
    blobs,
    events,
    verifier: given.verifier ?? remoteVerifier(config, usersBreaker),
    logger: shell.logger,
    metrics: shell.metrics,
  });
  const intervalMs = config.BLOB_SWEEP_INTERVAL_SECONDS * 1000;
  const stopSweeps =
    intervalMs > 0 ? scheduleBlobSweeps(sweeper, intervalMs, promSweepReporter(shell.metrics), shell.logger) : null;
  return {
    name: 'images',
    domain,
    store,
    blobs,
    events,
    mount: (app) => app.use(router),
    storageDirs: storageDirsOf(config),
    readiness: [
      { name: 'metadata', check: () => store.ping() },
      { name: 'blobs', check: () => blobs.ping() },
      ...(usersBreaker ? [usersReadiness(usersBreaker)] : []),
    ],
    closers: [
      // First: a sweep in progress uses the store and the blobs.
      ...(stopSweeps ? [{ name: 'blob sweeps', close: stopSweeps }] : []),
      ...(given.store ? [] : [{ name: 'images store', close: () => store.close() }]),
      ...(given.blobs ? [] : [{ name: 'blobs', close: () => blobs.close() }]),
      ...(given.events ? [] : [{ name: 'events', close: () => events.close() }]),
    ],
  };
}
