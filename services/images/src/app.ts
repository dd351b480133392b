import type { Router } from 'express';
import { type AccessTokenVerifier, type BlobStore, type EventBus, type Logger, type Metrics } from '@capcheck/shared';
import type { ImagesConfig } from './config';
import { sharpDecoder } from './data-access/sharp-decoder';
import { BlobSweeper } from './domain/blob-sweeper';
import { ImagesDomain } from './domain/images';
import type { ImagesStore } from './domain/ports';
import { createImagesRouter } from './entry-points/http/routes';
import { promTelemetry } from './telemetry';

export interface ImagesDeps {
  config: ImagesConfig;
  store: ImagesStore;
  blobs: BlobStore;
  events: EventBus;
  verifier: AccessTokenVerifier;
  logger: Logger;
  metrics: Metrics;
}

/**
 * The images service's routes, its domain (which the local process also reads images through for
 * inference) and the sweeper that compares records with blobs.
 */
export function createImagesService(deps: ImagesDeps): { router: Router; domain: ImagesDomain; sweeper: BlobSweeper } {
  const clock = { now: () => new Date() };
  const sweeper = new BlobSweeper(
    { images: deps.store.images, blobs: deps.blobs, logger: deps.logger, clock },
    {
      removeOrphansOlderThanMs: deps.config.BLOB_SWEEP_REMOVE_ORPHANS
        ? deps.config.BLOB_SWEEP_ORPHAN_GRACE_SECONDS * 1000
        : null,
    },
  );
  const domain = new ImagesDomain({
    images: deps.store.images,
    blobs: deps.blobs,
    events: deps.events,
    decoder: sharpDecoder({ maxPixels: deps.config.MAX_IMAGE_PIXELS }),
    telemetry: promTelemetry(deps.metrics),
    logger: deps.logger,
    clock,
  });
  return {
    domain,
    sweeper,
    router: createImagesRouter({
      domain,
      verifier: deps.verifier,
      uploads: {
        maxBytes: deps.config.MAX_UPLOAD_BYTES,
        tmpDir: deps.config.UPLOAD_TMP_DIR,
        maxPerUser: deps.config.MAX_CONCURRENT_UPLOADS_PER_USER,
        maxPerProcess: deps.config.MAX_CONCURRENT_UPLOADS,
      },
    }),
  };
}
