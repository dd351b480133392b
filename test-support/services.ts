import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import { z } from 'zod';
import {
  createAccessTokenVerifier,
  createModulesApp,
  createShell,
  eventsConfigShape,
  loadConfig,
  localSigningKeys,
  newId,
  openEventBus,
  shellConfigShape,
  type AccessTokenVerifier,
  type BlobStore,
  type EventBus,
  type Module,
  type Principal,
  type Role,
  type ServerTimeouts,
  type Shell,
  type UserId,
} from '@capcheck/shared';
import {
  createSigningKeyRing,
  generateSigningJwks,
  importSigningKeys,
  openUsersModule,
  usersSettingsShape,
  type SigningKeyRing,
  type UsersStore,
} from '@capcheck/users';
import { imagesSettingsShape, openImagesModule, type ImagesStore } from '@capcheck/images';
import {
  inferenceSettingsShape,
  openInferenceModule,
  type InferenceService,
  type InferenceStore,
} from '@capcheck/inference';
import { client, listen, type Client, type Started } from './http';
import { tcpProxy, type TcpProxy } from './tcp-proxy';

/**
 * Settings every test system starts with: quiet, cheap password hashing, one inference worker, and
 * no precomputing on upload (a test that wants a first answer computed on request gets it).
 */
export const testDefaults = {
  LOG_LEVEL: 'silent',
  BCRYPT_COST: '4',
  INFERENCE_WORKERS: '1',
  INFERENCE_PRECOMPUTE: 'false',
};

/** One process's modules listening on a random loopback port, closed (in reverse) with it. */
export interface RunningModules extends Started {
  app: Express;
  api: Client;
}

export async function serveModules(
  name: string,
  shell: Shell,
  modules: readonly Module[],
  timeouts?: ServerTimeouts,
): Promise<RunningModules> {
  const app = createModulesApp(name, shell, modules);
  const started = await listen(app, timeouts);
  return {
    ...started,
    app,
    api: client(started.baseUrl),
    async close() {
      await started.close();
      for (const closer of modules.flatMap((m) => m.closers).reverse()) await closer.close();
    },
  };
}

const tempDataDir = () => mkdtempSync(join(tmpdir(), 'capcheck-test-'));

/** A service's settings and the shell's, with the test defaults under `env` (embedded adapters only). */
function settingsOf<S extends z.ZodRawShape>(shape: S, env: Record<string, string>) {
  return loadConfig(z.object({ ...shellConfigShape, ...shape }), { ...testDefaults, ...env });
}

export interface UsersSystem extends RunningModules {
  store: UsersStore;
  keyRing: SigningKeyRing;
}

/** The users service alone, as its own process opens it, on SQLite in a fresh temp directory. */
export async function startUsers(env: Record<string, string> = {}): Promise<UsersSystem> {
  const config = settingsOf(usersSettingsShape, {
    DATA_DIR: tempDataDir(),
    REGISTRATIONS_PER_IP_PER_HOUR: '10000',
    LOGIN_ATTEMPTS_PER_IP: '10000',
    ...env,
  });
  const shell = createShell(config, 'users');
  const users = await openUsersModule(config, shell);
  return { ...(await serveModules('users', shell, [users])), store: users.store, keyRing: users.keyRing };
}

/** A signed-in user as a service other than users sees one: an id and a real access token. */
export interface TestUser {
  id: UserId;
  role: Role;
  accessToken: string;
}

export interface TokenIssuer {
  verifier: AccessTokenVerifier;
  /** A new user id and an access token for it. */
  signUp(role?: Role): Promise<TestUser>;
  /** An access token for exactly that principal (e.g. one traded for an API key). */
  tokenFor(principal: Principal): Promise<string>;
}

/**
 * Stands in for the users service where a test boots another service alone: real ES256 access
 * tokens from a key ring of its own, and the verifier that trusts exactly that ring.
 */
export async function testTokenIssuer(): Promise<TokenIssuer> {
  const claims = { issuer: 'capcheck', audience: 'capcheck-api' };
  const keyRing = createSigningKeyRing(await importSigningKeys(JSON.stringify(await generateSigningJwks())), claims);
  return {
    verifier: createAccessTokenVerifier({ ...claims, keys: localSigningKeys(() => keyRing.publicJwks()) }),
    tokenFor: (principal) => keyRing.sign(principal, 900),
    async signUp(role: Role = 'user') {
      const id = newId<UserId>();
      return { id, role, accessToken: await keyRing.sign({ userId: id, role }, 900) };
    },
  };
}

export interface ImagesSystem extends RunningModules {
  store: ImagesStore;
  blobs: BlobStore;
  events: EventBus;
  dataDir: string;
  signUp: TokenIssuer['signUp'];
}

/**
 * The images service alone, as its own process opens it (SQLite and blob files in a fresh temp
 * directory, the bus its settings name unless one is given), trusting tokens from a test issuer.
 */
export async function startImages(
  env: Record<string, string> = {},
  given: { events?: EventBus } = {},
): Promise<ImagesSystem> {
  const dataDir = tempDataDir();
  const tokens = await testTokenIssuer();
  const config = settingsOf(imagesSettingsShape, { DATA_DIR: dataDir, ...env });
  const shell = createShell(config, 'images');
  const images = await openImagesModule(config, shell, { ...given, verifier: tokens.verifier });
  const running = await serveModules('images', shell, [images]);
  return {
    ...running,
    store: images.store,
    blobs: images.blobs,
    events: images.events,
    dataDir,
    signUp: tokens.signUp,
    async close() {
      await running.close();
      await given.events?.close();
    },
  };
}

export interface InferenceSystem extends RunningModules {
  store: InferenceStore;
  inference: InferenceService;
  /** The images service it reads from over HTTP with the caller's token, as in production. */
  images: RunningModules & { store: ImagesStore };
  blobs: BlobStore;
  events: EventBus;
  signUp: TokenIssuer['signUp'];
  tokenFor: TokenIssuer['tokenFor'];
  /** The line to images, when asked for: cut or hang it to take images away. */
  imagesLine: TcpProxy | undefined;
}

/**
 * The inference service alone, as its own process opens it, reading images over HTTP from an images
 * service of its own. Each is its own module on its own port; they share the data directory (so the
 * blob files) and, as separate processes share a broker, the event bus.
 */
export async function startInference(
  env: Record<string, string> = {},
  given: { events?: EventBus; imagesLine?: boolean } = {},
): Promise<InferenceSystem> {
  const dataDir = tempDataDir();
  const tokens = await testTokenIssuer();
  const shell = createShell(settingsOf({}, env), 'inference');
  // The consumers are inference's, so the bus counts its dead letters in inference's metrics.
  const events = given.events ?? (await openEventBus(settingsOf(eventsConfigShape, env), shell.logger, shell.metrics));
  const imagesConfig = settingsOf(imagesSettingsShape, { DATA_DIR: dataDir, ...env });
  const imagesShell = createShell(imagesConfig, 'images');
  const imagesModule = await openImagesModule(imagesConfig, imagesShell, { events, verifier: tokens.verifier });
  const images = await serveModules('images', imagesShell, [imagesModule]);
  // A test that takes images away (hung, down) reaches it through a proxy it controls.
  const imagesLine = given.imagesLine ? await tcpProxy(images.baseUrl) : undefined;
  const config = settingsOf(inferenceSettingsShape, {
    DATA_DIR: dataDir,
    IMAGES_URL: imagesLine?.url ?? images.baseUrl,
    ...env,
  });
  const inference = await openInferenceModule(config, shell, { events, verifier: tokens.verifier });
  await inference.service.runtime.ready;
  const running = await serveModules('inference', shell, [inference]);
  return {
    ...running,
    store: inference.store,
    inference: inference.service,
    images: { ...images, store: imagesModule.store },
    blobs: imagesModule.blobs,
    events,
    signUp: tokens.signUp,
    tokenFor: tokens.tokenFor,
    imagesLine,
    async close() {
      await imagesLine?.close();
      await running.close();
      await images.close();
      await events.close();
    },
  };
}

export const password = 'correct horse battery';

/** Registers and logs in a fresh user; returns its tokens. */
export async function signUp(api: Client, email: string) {
  const registered = await api.post<{ id: string; role: string }>('/auth/register', { json: { email, password } });
  if (registered.status !== 201) throw new Error(`register failed: ${registered.status}`);
  const login = await api.post<{ accessToken: string; refreshToken: string }>('/auth/login', {
    json: { email, password },
  });
  if (login.status !== 200) throw new Error(`login failed: ${login.status}`);
  return { id: registered.body.id, role: registered.body.role, ...login.body };
}
