import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** A setting that cannot be used; the message names every offending variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Validates the environment once, at start-up. Secrets may come from a file: `NAME_FILE=/run/secrets/x`
 * fills `NAME` (Docker/Kubernetes secrets), so they never need to be in the environment or the repo.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const known = schema instanceof z.ZodObject ? new Set(Object.keys(schema.shape as object)) : new Set<string>();
  const resolved = resolveFileSecrets(env, known);
  const result = schema.safeParse(resolved);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

function resolveFileSecrets(env: NodeJS.ProcessEnv, known: ReadonlySet<string>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const [key, path] of Object.entries(env)) {
    if (!key.endsWith('_FILE') || !path) continue;
    const target = key.slice(0, -'_FILE'.length);
    if (!known.has(target)) continue;
    if (env[target] !== undefined) {
      throw new ConfigError(`Invalid configuration:\n  ${target}: set either ${target} or ${key}, not both`);
    }
    try {
      out[target] = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(`Invalid configuration:\n  ${key}: cannot read file ${path}`, { cause: err });
    }
  }
  return out;
}

/** Building blocks for service config schemas, so every service spells a setting the same way. */
export const setting = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  nonNegativeInt: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1'),
  list: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};
