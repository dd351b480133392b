import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ConfigError,
  loadConfig,
  rateLimitConfigShape,
  setting,
  shellConfigShape,
  storeConfigShape,
  withAdapterRules,
} from '@capcheck/shared';

const schema = withAdapterRules(
  z.object({
    ...shellConfigShape,
    ...storeConfigShape,
    ...rateLimitConfigShape,
    PORT: setting.port(8080),
    SECRET: z.string().optional(),
  }),
);

test('defaults apply when nothing is set', () => {
  const config = loadConfig(schema, {});
  expect(config).toMatchObject({
    PORT: 8080,
    METADATA_STORE: 'sqlite',
    RATE_LIMIT_STORE: 'memory',
    TRUST_PROXY: false,
  });
});

test.each([
  [{ PORT: 'eighty' }, 'PORT'],
  [{ PORT: '70000' }, 'PORT'],
  [{ METADATA_STORE: 'postgres' }, 'METADATA_STORE'],
  [{ METADATA_STORE: 'mongo' }, 'MONGO_URL'],
  [{ RATE_LIMIT_STORE: 'redis' }, 'REDIS_URL'],
  [{ REDIS_URL: 'http://nope' }, 'REDIS_URL'],
  [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
])('a bad setting %j stops start-up naming %s', (env, name) => {
  expect(() => loadConfig(schema, env)).toThrow(ConfigError);
  expect(() => loadConfig(schema, env)).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}:`));
});

test('every bad setting is named at once', () => {
  expect(() => loadConfig(schema, { PORT: 'x', LOG_LEVEL: 'y' })).toThrow(
    /PORT:[\s\S]*LOG_LEVEL:|LOG_LEVEL:[\s\S]*PORT:/,
  );
});

test('TRUST_PROXY reads as a boolean, a hop count or a list of addresses', () => {
  expect(loadConfig(schema, { TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
  expect(loadConfig(schema, { TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
  expect(loadConfig(schema, { TRUST_PROXY: '10.0.0.0/8, loopback' }).TRUST_PROXY).toEqual(['10.0.0.0/8', 'loopback']);
});

describe('secrets from files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capcheck-config-'));

  test('NAME_FILE fills NAME with the trimmed file content', () => {
    const file = join(dir, 'secret');
    writeFileSync(file, 's3cret\n');
    expect(loadConfig(schema, { SECRET_FILE: file }).SECRET).toBe('s3cret');
  });

  test('an unreadable file is named', () => {
    expect(() => loadConfig(schema, { SECRET_FILE: join(dir, 'missing') })).toThrow(/SECRET_FILE: cannot read file/);
  });

  test('both NAME and NAME_FILE is refused', () => {
    const file = join(dir, 'both');
    writeFileSync(file, 'x');
    expect(() => loadConfig(schema, { SECRET: 'y', SECRET_FILE: file })).toThrow(/set either SECRET or SECRET_FILE/);
  });

  test('unrelated *_FILE variables of the environment are left alone', () => {
    expect(() => loadConfig(schema, { TF_CLI_CONFIG_FILE: '/does/not/exist' })).not.toThrow();
  });
});
