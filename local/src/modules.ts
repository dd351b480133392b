import {
  allowlistOnly,
  openEventBus,
  parseAllowlist,
  type BlobStore,
  type EventBus,
  type Module,
  type Shell,
} from '@capcheck/shared';
import { openImagesModule, type ImagesModule } from '@capcheck/images';
import { openInferenceModule, type InferenceModule } from '@capcheck/inference';
import { openUsersModule, type UsersAdapters, type UsersModule } from '@capcheck/users';
import type { LocalConfig } from './config';
import { inProcessImageSource } from './image-source';
import { mountWebApp } from './web';

/** The local process's modules, by name, for those who need one of them (tests, the bench). */
export interface LocalModules {
  users: UsersModule;
  images: ImagesModule;
  inference: InferenceModule;
  events: EventBus;
  all: Module[];
}

/** Adapters opened elsewhere (the caller then closes them); the rest are opened from the settings. */
export interface LocalAdapters extends UsersAdapters {
  events?: EventBus;
  blobs?: BlobStore;
}

/**
 * The "all" target: every service as a module of one process, on the same paths the gateway
 * exposes. Where separate services talk over the network, these are wired in-process: images and
 * inference trust the users module's own verifier, inference reads images through the images
 * domain, and all three share one event bus. /admin is allow-listed here as the gateway does in
 * production, and the built web page is served after the API.
 */
export async function openLocalModules(
  config: LocalConfig,
  shell: Shell,
  given: LocalAdapters = {},
): Promise<LocalModules> {
  const events = given.events ?? (await openEventBus(config, shell.logger, shell.metrics));
  const users = await openUsersModule(config, shell, given);
  const images = await openImagesModule(config, shell, { events, verifier: users.verifier, blobs: given.blobs });
  const inference = await openInferenceModule(config, shell, {
    events,
    verifier: users.verifier,
    blobs: given.blobs,
    imageSource: inProcessImageSource(images.domain),
  });
  const adminAllowlist = parseAllowlist(config.ADMIN_ALLOWLIST);
  const admin: Module = {
    name: 'admin allow-list',
    mount: (app) => app.use('/admin', allowlistOnly(adminAllowlist)),
    readiness: [],
    closers: [],
  };
  const web: Module = {
    name: 'web',
    mount: (app) => mountWebApp(app, config.WEB_DIR, shell.logger),
    readiness: [],
    // Closers run in reverse: the shared bus closes first, so nothing is consumed while the stores close.
    closers: given.events ? [] : [{ name: 'events', close: () => events.close() }],
  };
  return { users, images, inference, events, all: [admin, users, images, inference, web] };
}
