import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  commonConfigShape,
  createAccessTokenVerifier,
  createFilesystemBlobStore,
  createLogger,
  createMemoryRateLimiters,
  createMetrics,
  defaultSqlitePath,
  eventsConfigShape,
  Lifecycle,
  loadConfig,
  localSigningKeys,
  newId,
  openEventBus,
  type AccessTokenVerifier,
  type BlobStore,
  type EventBus,
  type Principal,
  type Role,
  type UserId,
} from '@capcheck/shared';
import {
  bcryptHasher,
  createApp as createUsersApp,
  createSigningKeyRing,
  createSqliteUsersStore,
  generateSigningJwks,
  importSigningKeys,
  usersConfigShape,
  type SigningKeyRing,
  type UsersStore,
} from '@capcheck/users';
import {
  createApp as createImagesApp,
  createSqliteImagesStore,
  imagesConfigShape,
  type ImagesStore,
} from '@capcheck/images';
import {
  createApp as createInferenceApp,
  createSqliteInferenceStore,
  httpImageSource,
  imagesBreakerOf,
  inferenceConfigShape,
  type InferenceService,
  type InferenceStore,
} from '@capcheck/inference';
import { z } from 'zod';
import { client, listen, type Client, type Started } from './http';
import { tcpProxy, type TcpProxy } from './tcp-proxy';

/** One service's HTTP app, listening on a random loopback port. */
export interface RunningService extends Started {
  api: Client;
}

const silent = () => createLogger({ service: 'test', level: 'silent' });
const tempDataDir = () => mkdtempSync(join(tmpdir(), 'capcheck-test-'));
const testDefaults = { LOG_LEVEL: 'silent', BCRYPT_COST: '4', INFERENCE_WORKERS: '1' };

async function serveApp(app: Parameters<typeof listen>[0]): Promise<RunningService> {
  const started = await listen(app);
  return { ...started, api: client(started.baseUrl) };
}

async function newKeyRing(config: { JWT_SIGNING_KEYS?: string | undefined; JWT_ISSUER: string; JWT_AUDIENCE: string }) {
  return createSigningKeyRing(
    await importSigningKeys(config.JWT_SIGNING_KEYS ?? JSON.stringify(await generateSigningJwks())),
    { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE },
  );
}

export interface UsersSystem extends RunningService {
  store: UsersStore;
  keyRing: SigningKeyRing;
}

/** The users service alone, on its real adapters (SQLite in a fresh temp directory). */
export async function startUsers(env: Record<string, string> = {}): Promise<UsersSystem> {
  const dataDir = tempDataDir();
  const config = loadConfig(z.object({ ...commonConfigShape, ...usersConfigShape }), {
    DATA_DIR: dataDir,
    REGISTRATIONS_PER_IP_PER_HOUR: '10000',
    LOGIN_ATTEMPTS_PER_IP: '10000',
    ...testDefaults,
    ...env,
  });
  const store = createSqliteUsersStore(defaultSqlitePath(dataDir));
  const keyRing = await newKeyRing(config);
  const running = await serveApp(
    createUsersApp({
      config,
      store,
      rateLimiters: createMemoryRateLimiters(),
      keyRing,
      passwords: bcryptHasher(config.BCRYPT_COST),
      logger: silent(),
      metrics: createMetrics(),
      lifecycle: new Lifecycle(),
      trustProxy: false,
    }),
  );
  return {
    ...running,
    store,
    keyRing,
    async close() {
      await running.close();
      await store.close();
    },
  };
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
  const claims = { JWT_ISSUER: 'capcheck', JWT_AUDIENCE: 'capcheck-api' };
  const keyRing = await newKeyRing(claims);
  return {
    verifier: createAccessTokenVerifier({
      issuer: claims.JWT_ISSUER,
      audience: claims.JWT_AUDIENCE,
      keys: localSigningKeys(() => keyRing.publicJwks()),
    }),
    tokenFor: (principal) => keyRing.sign(principal, 900),
    async signUp(role: Role = 'user') {
      const id = newId<UserId>();
      return { id, role, accessToken: await keyRing.sign({ userId: id, role }, 900) };
    },
  };
}

export interface ImagesSystem extends RunningService {
  store: ImagesStore;
  blobs: BlobStore;
  events: EventBus;
  dataDir: string;
  signUp: TokenIssuer['signUp'];
}

async function imagesService(
  env: Record<string, string>,
  shared: { dataDir: string; blobs: BlobStore; events: EventBus; verifier: AccessTokenVerifier },
) {
  const config = loadConfig(z.object(imagesConfigShape), env);
  const store = createSqliteImagesStore(defaultSqlitePath(shared.dataDir));
  const running = await serveApp(
    createImagesApp({
      config,
      store,
      blobs: shared.blobs,
      events: shared.events,
      verifier: shared.verifier,
      logger: silent(),
      metrics: createMetrics(),
      lifecycle: new Lifecycle(),
      trustProxy: false,
    }),
  );
  return {
    ...running,
    store,
    async close() {
      await running.close();
      await store.close();
    },
  };
}

/** The given bus, or the one the settings name; its dead-letter counts go to `metrics`. */
const eventsFor = async (
  env: Record<string, string>,
  given: EventBus | undefined,
  metrics = createMetrics(),
): Promise<EventBus> => given ?? openEventBus(loadConfig(z.object(eventsConfigShape), env), silent(), metrics);

/**
 * The images service alone, on its real adapters (SQLite and blob files in a fresh temp directory,
 * in-process events unless given), trusting tokens from a test issuer.
 */
export async function startImages(
  env: Record<string, string> = {},
  adapters: { events?: EventBus } = {},
): Promise<ImagesSystem> {
  const dataDir = tempDataDir();
  const tokens = await testTokenIssuer();
  const blobs = await createFilesystemBlobStore(join(dataDir, 'blobs'));
  const events = await eventsFor(env, adapters.events);
  const images = await imagesService(env, { dataDir, blobs, events, verifier: tokens.verifier });
  return {
    ...images,
    blobs,
    events,
    dataDir,
    signUp: tokens.signUp,
    async close() {
      await images.close();
      await events.close();
      await blobs.close();
    },
  };
}

export interface InferenceSystem extends RunningService {
  /** The inference service's routes (/predict, /models, prediction logs). */
  api: Client;
  store: InferenceStore;
  inference: InferenceService;
  /** The images service it reads from over HTTP with the caller's token, as in production. */
  images: RunningService & { store: ImagesStore };
  blobs: BlobStore;
  events: EventBus;
  signUp: TokenIssuer['signUp'];
  tokenFor: TokenIssuer['tokenFor'];
  /** The line to images, when asked for: cut or hang it to take images away. */
  imagesLine: TcpProxy | undefined;
}

/**
 * The inference service alone on its real adapters, reading images over HTTP from an images service
 * of its own (both on random ports, sharing the blob directory and the event bus as in production).
 * Background consumers are not started: tests that need them start them.
 */
export async function startInference(
  env: Record<string, string> = {},
  adapters: { events?: EventBus; imagesLine?: boolean } = {},
): Promise<InferenceSystem> {
  const dataDir = tempDataDir();
  const tokens = await testTokenIssuer();
  const blobs = await createFilesystemBlobStore(join(dataDir, 'blobs'));
  // The consumers are inference's, so the bus reports to inference's metrics.
  const metrics = createMetrics();
  const events = await eventsFor(env, adapters.events, metrics);
  const images = await imagesService(env, { dataDir, blobs, events, verifier: tokens.verifier });
  const config = loadConfig(z.object(inferenceConfigShape), { ...testDefaults, ...env });
  const store = createSqliteInferenceStore(defaultSqlitePath(dataDir));
  // A test that takes images away (hung, down) reaches it through a proxy it controls.
  const imagesLine = adapters.imagesLine ? await tcpProxy(images.baseUrl) : undefined;
  const imagesBreaker = imagesBreakerOf(config);
  const { app, service } = createInferenceApp({
    config,
    store,
    blobs,
    imageSource: httpImageSource({
      baseUrl: imagesLine?.url ?? images.baseUrl,
      timeoutMs: config.IMAGES_TIMEOUT_MS,
      breaker: imagesBreaker,
    }),
    neighbours: [{ name: 'images', check: () => imagesBreaker.check() }],
    verifier: tokens.verifier,
    logger: silent(),
    metrics,
    lifecycle: new Lifecycle(),
    trustProxy: false,
  });
  await service.runtime.ready;
  const running = await serveApp(app);
  return {
    ...running,
    store,
    inference: service,
    images,
    blobs,
    events,
    signUp: tokens.signUp,
    tokenFor: tokens.tokenFor,
    imagesLine,
    async close() {
      await imagesLine?.close();
      await running.close();
      await service.runtime.close();
      await images.close();
      await events.close();
      await blobs.close();
      await store.close();
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
