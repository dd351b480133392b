import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './compose';

interface Definitions {
  users: { name: string; password_hash: string; hashing_algorithm: string; tags: string[] }[];
  permissions: { user: string; vhost: string; configure: string; write: string; read: string }[];
}

/** RabbitMQ's check of a rabbit_password_hashing_sha256 hash: the first 4 bytes are the salt. */
const matches = (hash: string, password: string) => {
  const bytes = Buffer.from(hash, 'base64');
  const salt = bytes.subarray(0, 4);
  return createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password)]))
    .digest()
    .equals(bytes.subarray(4));
};

test('generate-secrets: every change-me replaced, RabbitMQ users with hashes of the .env passwords and narrow permissions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capcheck-secrets-'));
  const run = spawnSync(process.execPath, [join(repoRoot, 'deploy', 'generate-secrets.mjs'), dir], {
    encoding: 'utf8',
  });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const env = Object.fromEntries(
    [...readFileSync(join(dir, '.env'), 'utf8').matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]),
  ) as Record<string, string>;
  expect(Object.entries(env).filter(([, v]) => v === 'change-me')).toEqual([]);

  const definitions = JSON.parse(
    readFileSync(join(dir, 'deploy', 'secrets', 'rabbitmq-definitions.json'), 'utf8'),
  ) as Definitions;
  const passwordOf: Record<string, string> = {
    [env.RABBITMQ_USER!]: env.RABBITMQ_PASSWORD!,
    'capcheck-images': env.RABBITMQ_IMAGES_PASSWORD!,
    'capcheck-inference': env.RABBITMQ_INFERENCE_PASSWORD!,
  };
  expect(definitions.users.map((u) => u.name).sort()).toEqual(Object.keys(passwordOf).sort());
  for (const user of definitions.users) {
    expect([user.name, user.hashing_algorithm, matches(user.password_hash, passwordOf[user.name]!)]).toEqual([
      user.name,
      'rabbit_password_hashing_sha256',
      true,
    ]);
    expect(JSON.stringify(definitions)).not.toContain(passwordOf[user.name]!);
  }
  const can = (user: string, what: 'configure' | 'write' | 'read', resource: string) => {
    const permission = definitions.permissions.find((p) => p.user === user)!;
    return new RegExp(permission[what]).test(resource);
  };
  // images publishes to the events exchange and reads nothing.
  expect(can('capcheck-images', 'write', 'capcheck.events')).toBe(true);
  expect(can('capcheck-images', 'read', 'inference.forget')).toBe(false);
  expect(can('capcheck-images', 'configure', 'inference.forget')).toBe(false);
  // inference consumes its own queues (and republishes retries to them), never publishes events.
  for (const queue of ['inference.precompute', 'inference.forget', 'inference.forget.dead']) {
    expect(can('capcheck-inference', 'read', queue)).toBe(true);
    expect(can('capcheck-inference', 'configure', queue)).toBe(true);
  }
  expect(can('capcheck-inference', 'write', 'capcheck.events')).toBe(false);
  expect(can('capcheck-inference', 'read', 'other.queue')).toBe(false);

  // Run again: every file is kept as it is.
  const again = spawnSync(process.execPath, [join(repoRoot, 'deploy', 'generate-secrets.mjs'), dir], {
    encoding: 'utf8',
  });
  expect(again.stdout.match(/^kept /gm)).toHaveLength(3);
});
