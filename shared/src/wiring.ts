import { join, resolve } from 'node:path';
import { z } from 'zod';
import { setting } from './config';
import { createMongoMetadataStore } from './adapters/mongo/metadata-store';
import { createRedisRateLimiters, createMemoryRateLimiters } from './adapters/rate-limit/rate-limiter-flexible';
import { createSqliteMetadataStore } from './adapters/sqlite/metadata-store';
import type { MetadataStore } from './ports/metadata';
import type { RateLimiterFactory } from './ports/rate-limit';

/** `false` (this process is the edge), `true`, a hop count, or a list of trusted proxy CIDRs. */
const trustProxySetting = z
  .string()
  .default('false')
  .transform((v): boolean | number | string[] => {
    if (v === 'true' || v === 'false') return v === 'true';
    if (/^\d+$/.test(v)) return Number(v);
    return v.split(',').map((s) => s.trim());
  });

/** Settings every service reads: logging, proxy trust, shutdown, and which adapter backs each port. */
export const commonConfigShape = {
  LOG_LEVEL: setting.logLevel(),
  TRUST_PROXY: trustProxySetting,
  SHUTDOWN_TIMEOUT_MS: setting.positiveInt(10_000),
  DATA_DIR: z.string().min(1).default('./data'),
  METADATA_STORE: z.enum(['sqlite', 'mongo']).default('sqlite'),
  SQLITE_PATH: z.string().min(1).optional(),
  MONGO_URL: z.url({ protocol: /^mongodb(\+srv)?$/ }).optional(),
  RATE_LIMIT_STORE: z.enum(['memory', 'redis']).default('memory'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
};

type CommonConfig = z.output<z.ZodObject<typeof commonConfigShape>>;

/** Adds the cross-field rules: an adapter that needs a server needs its URL. */
export function withAdapterRules<T extends z.ZodObject<typeof commonConfigShape>>(schema: T) {
  return schema.superRefine((c, ctx) => {
    if (c.METADATA_STORE === 'mongo' && !c.MONGO_URL) {
      ctx.addIssue({ code: 'custom', path: ['MONGO_URL'], message: 'required when METADATA_STORE=mongo' });
    }
    if (c.RATE_LIMIT_STORE === 'redis' && !c.REDIS_URL) {
      ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'required when RATE_LIMIT_STORE=redis' });
    }
  });
}

export async function openMetadataStore(config: CommonConfig): Promise<MetadataStore> {
  if (config.METADATA_STORE === 'mongo' && config.MONGO_URL) return createMongoMetadataStore(config.MONGO_URL);
  return createSqliteMetadataStore(config.SQLITE_PATH ?? join(resolve(config.DATA_DIR), 'capcheck.sqlite'));
}

export async function openRateLimiters(config: CommonConfig): Promise<RateLimiterFactory> {
  if (config.RATE_LIMIT_STORE === 'redis' && config.REDIS_URL) return createRedisRateLimiters(config.REDIS_URL);
  return createMemoryRateLimiters();
}
