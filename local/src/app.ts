import type { Express } from 'express';
import { createImagesService, type ImagesStore } from '@capcheck/images';
import {
  createInferenceService,
  inferenceOwnBodyPaths,
  type InferenceService,
  type InferenceStore,
} from '@capcheck/inference';
import {
  allowlistOnly,
  createHttpApp,
  parseAllowlist,
  shellSettings,
  type Lifecycle,
  type Logger,
  type BlobStore,
  type EventBus,
  type Metrics,
} from '@capcheck/shared';
import { createUsersService, type UsersDeps } from '@capcheck/users';
import type { LocalConfig } from './config';
import { inProcessImageSource } from './image-source';
import { mountWebApp } from './web';

export interface LocalDeps extends Omit<UsersDeps, 'config' | 'store'> {
  config: LocalConfig;
  /** Each service's own records (in one SQLite file under DATA_DIR by default, each with its own tables). */
  stores: { users: UsersDeps['store']; images: ImagesStore; inference: InferenceStore };
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  blobs: BlobStore;
  events: EventBus;
}

/**
 * Every service in one Express app, on the same paths the gateway exposes. Each service contributes
 * its router; the shell (logs, metrics, health, errors) is shared, and /admin is allow-listed here as
 * the gateway does in production.
 */
export function createLocalApp(deps: LocalDeps): { app: Express; inference: InferenceService } {
  const { stores } = deps;
  const users = createUsersService({ ...deps, store: stores.users });
  const images = createImagesService({ ...deps, store: stores.images, verifier: users.verifier });
  const inference = createInferenceService({
    ...deps,
    store: stores.inference,
    verifier: users.verifier,
    imageSource: inProcessImageSource(images.domain),
  });
  const adminAllowlist = parseAllowlist(deps.config.ADMIN_ALLOWLIST);
  const app = createHttpApp({
    name: 'local',
    logger: deps.logger,
    metrics: deps.metrics,
    lifecycle: deps.lifecycle,
    ...shellSettings(deps.config),
    ownBodyPaths: inferenceOwnBodyPaths,
    readiness: [
      {
        name: 'metadata',
        check: async () =>
          void (await Promise.all([stores.users.ping(), stores.images.ping(), stores.inference.ping()])),
      },
      { name: 'rate-limits', check: () => deps.rateLimiters.ping() },
      { name: 'blobs', check: () => deps.blobs.ping() },
      { name: 'model', check: () => inference.runtime.check() },
    ],
    mount(app) {
      app.use('/admin', allowlistOnly(adminAllowlist));
      app.use(users.router);
      app.use(images.router);
      app.use(inference.router);
      mountWebApp(app, deps.config.WEB_DIR, deps.logger);
    },
  });
  return { app, inference };
}
