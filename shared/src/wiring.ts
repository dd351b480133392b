import { join, resolve } from 'node:path';
import { z } from 'zod';
import { setting } from './config';
import { createRedisRateLimiters, createMemoryRateLimiters } from './adapters/rate-limit/rate-limiter-flexible';
import { createFilesystemBlobStore } from './adapters/blobs/filesystem';
import { createS3BlobStore } from './adapters/blobs/s3';
import { createInProcessEventBus } from './adapters/events/in-process';
import { createRabbitMqEventBus } from './adapters/events/rabbitmq';
import { createAccessTokenVerifier, remoteSigningKeys, type AccessTokenVerifier } from './auth/verifier';
import { usersServiceAccountLookup, withAccountCheck } from './auth/account-status';
import { CircuitBreaker } from './circuit-breaker';
import type { ReadinessCheck } from './health';
import type { Logger } from './logger';
import type { BlobStore } from './ports/blobs';
import type { DeadLetterObserver, DeadLetterReason, EventBus } from './ports/events';
import type { Metrics } from './metrics';
import type { RateLimiterFactory } from './ports/rate-limit';

/** Where a service keeps its records: SQLite under DATA_DIR (default) or MongoDB. */
export const storeConfigShape = {
  DATA_DIR: z.string().min(1).default('./data'),
  METADATA_STORE: z.enum(['sqlite', 'mongo']).default('sqlite'),
  SQLITE_PATH: z.string().min(1).optional(),
  MONGO_URL: z.url({ protocol: /^mongodb(\+srv)?$/ }).optional(),
};

/** Where a process writes (readiness checks their free space): DATA_DIR, the blob directory, uploads. */
export function storageDirsOf(config: {
  DATA_DIR: string;
  BLOB_STORE?: string;
  BLOB_DIR?: string | undefined;
  UPLOAD_TMP_DIR?: string | undefined;
}): string[] {
  const dataDir = resolve(config.DATA_DIR);
  const dirs = [dataDir];
  if (config.BLOB_STORE === 'filesystem') dirs.push(resolve(config.BLOB_DIR ?? join(dataDir, 'blobs')));
  if (config.UPLOAD_TMP_DIR) dirs.push(resolve(config.UPLOAD_TMP_DIR));
  return dirs;
}

/** Where rate-limit counters live: this process (default) or Redis, shared by every replica. */
export const rateLimitConfigShape = {
  RATE_LIMIT_STORE: z.enum(['memory', 'redis']).default('memory'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
};

interface AdapterChoices {
  METADATA_STORE?: string;
  MONGO_URL?: string | undefined;
  RATE_LIMIT_STORE?: string;
  REDIS_URL?: string | undefined;
}

/** Adds the cross-field rules of the adapter settings the schema has: an adapter that needs a server needs its URL. */
export function withAdapterRules<T extends z.ZodType<AdapterChoices>>(schema: T) {
  return schema.superRefine((c, ctx) => {
    if (c.METADATA_STORE === 'mongo' && !c.MONGO_URL) {
      ctx.addIssue({ code: 'custom', path: ['MONGO_URL'], message: 'required when METADATA_STORE=mongo' });
    }
    if (c.RATE_LIMIT_STORE === 'redis' && !c.REDIS_URL) {
      ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'required when RATE_LIMIT_STORE=redis' });
    }
  });
}

type RateLimitConfig = z.output<z.ZodObject<typeof rateLimitConfigShape>>;

export async function openRateLimiters(config: RateLimitConfig): Promise<RateLimiterFactory> {
  if (config.RATE_LIMIT_STORE === 'redis' && config.REDIS_URL) return createRedisRateLimiters(config.REDIS_URL);
  return createMemoryRateLimiters();
}

/** Where blobs go: a directory under DATA_DIR (default) or an S3-compatible bucket (MinIO). */
export const blobConfigShape = {
  BLOB_STORE: z.enum(['filesystem', 's3']).default('filesystem'),
  BLOB_DIR: z.string().min(1).optional(),
  S3_ENDPOINT: z.url().optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not a valid bucket name')
    .default('capcheck-images'),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: setting.boolean(true),
};
type BlobConfig = z.output<z.ZodObject<typeof blobConfigShape>> & { DATA_DIR: string };

export async function openBlobStore(config: BlobConfig): Promise<BlobStore> {
  if (config.BLOB_STORE === 's3') {
    if (!config.S3_ACCESS_KEY_ID || !config.S3_SECRET_ACCESS_KEY) {
      throw new Error('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are required when BLOB_STORE=s3');
    }
    return createS3BlobStore({
      ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
      region: config.S3_REGION,
      bucket: config.S3_BUCKET,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
    });
  }
  return createFilesystemBlobStore(config.BLOB_DIR ?? join(resolve(config.DATA_DIR), 'blobs'));
}

/** Events in this process (default) or through RabbitMQ. */
export const eventsConfigShape = {
  EVENT_BUS: z.enum(['in-process', 'rabbitmq']).default('in-process'),
  RABBITMQ_URL: z.url({ protocol: /^amqps?$/ }).default('amqp://guest:guest@127.0.0.1:5672'),
};
type EventsConfig = z.output<z.ZodObject<typeof eventsConfigShape>>;

const deadLetterReasons: readonly DeadLetterReason[] = ['unreadable', 'attempts_exhausted'];

export async function openEventBus(config: EventsConfig, logger: Logger, metrics: Metrics): Promise<EventBus> {
  const onDeadLetter: DeadLetterObserver = (queue, reason) => metrics.eventsDeadLettered.inc({ queue, reason });
  const bus =
    config.EVENT_BUS === 'rabbitmq'
      ? await createRabbitMqEventBus({ url: config.RABBITMQ_URL, logger, onDeadLetter })
      : createInProcessEventBus({ onError: (err) => logger.error({ err }, 'event handler failed'), onDeadLetter });
  return {
    publish: (event) => bus.publish(event),
    // Each consumer's dead-letter series start at 0, so rate() and increase() see the first dead letter.
    subscribe(subscription) {
      for (const reason of deadLetterReasons) metrics.eventsDeadLettered.inc({ queue: subscription.queue, reason }, 0);
      return bus.subscribe(subscription);
    },
    ping: () => bus.ping(),
    close: () => bus.close(),
  };
}

/** What a token must say it is for; users signs with these and every verifier checks them. */
export const tokenClaimsConfigShape = {
  JWT_ISSUER: z.string().min(1).default('capcheck'),
  JWT_AUDIENCE: z.string().min(1).default('capcheck-api'),
};

/** Picture limits, the same wherever pictures arrive or are decoded (images on upload, inference on predict). */
export const decodeLimitsConfigShape = {
  MAX_UPLOAD_BYTES: setting.positiveInt(10 * 1024 * 1024),
  MAX_IMAGE_PIXELS: setting.positiveInt(40_000_000),
};

/** How a service other than users checks tokens: the users service's JWKS over HTTP. */
export const verifierConfigShape = {
  ...tokenClaimsConfigShape,
  JWKS_URL: z.url().default('http://users:8081/.well-known/jwks.json'),
  /** The last key set fetched, kept so a restart while users is down still verifies tokens. */
  JWKS_CACHE_FILE: z.string().min(1).optional(),
  /** Where the account behind a token is checked (GET /users/me with the caller's token). */
  USERS_URL: z.url().default('http://users:8081'),
  /** How long an account's status is remembered: a disabled account's tokens stop within this. */
  ACCOUNT_CHECK_CACHE_MS: setting.nonNegativeInt(5_000),
  USERS_TIMEOUT_MS: setting.positiveInt(2_000),
  /** Failed account checks in a row that open the circuit to users, and how long it then fails fast. */
  USERS_BREAKER_FAILURES: setting.positiveInt(5),
  USERS_BREAKER_OPEN_MS: setting.positiveInt(5_000),
};
type VerifierConfig = z.output<z.ZodObject<typeof verifierConfigShape>> & { DATA_DIR?: string };

/** The circuit to the users service's account check, as configured. */
export const usersBreakerOf = (config: VerifierConfig): CircuitBreaker =>
  new CircuitBreaker({
    name: 'users',
    failureThreshold: config.USERS_BREAKER_FAILURES,
    openMs: config.USERS_BREAKER_OPEN_MS,
  });

/**
 * What /readyz says of the users service: reported, but the process stays ready without it, since
 * it still serves every caller (as a plain user: admin powers fail closed until users answers).
 */
export const usersReadiness = (breaker: CircuitBreaker): ReadinessCheck => ({
  name: 'users',
  degradedOnly: true,
  check: () => breaker.check(),
});

/**
 * Tokens checked with the users service's published keys, and the account behind them with users
 * itself, each call behind a deadline; the account check also behind `breaker` (see usersBreakerOf).
 */
export const remoteVerifier = (config: VerifierConfig, breaker?: CircuitBreaker): AccessTokenVerifier =>
  withAccountCheck(
    createAccessTokenVerifier({
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      keys: remoteSigningKeys({
        url: config.JWKS_URL,
        cacheFile: config.JWKS_CACHE_FILE ?? join(resolve(config.DATA_DIR ?? './data'), 'jwks-cache.json'),
        timeoutMs: config.USERS_TIMEOUT_MS,
      }),
    }),
    usersServiceAccountLookup({
      usersUrl: config.USERS_URL,
      timeoutMs: config.USERS_TIMEOUT_MS,
      cacheMs: config.ACCOUNT_CHECK_CACHE_MS,
      ...(breaker ? { breaker } : {}),
    }),
  );
