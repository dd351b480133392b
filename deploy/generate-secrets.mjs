#!/usr/bin/env node
// Makes what docker compose needs and the repository must never hold:
//   .env                                     from .env.example, every `change-me` a fresh random value
//   deploy/secrets/jwt_signing_keys.json       {"keys":[a private EC P-256 JWK]} for the users service
//   deploy/secrets/rabbitmq-definitions.json   RabbitMQ's users (password hashes from .env) and what
//                                              each may do: images publishes, inference consumes
// Existing files are kept (run it again safely); delete one to make it anew (the RabbitMQ file after
// changing a RabbitMQ password in .env). `node deploy/generate-secrets.mjs DIR` writes under DIR.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(process.argv[2] ?? repo);
const envFile = join(root, '.env');
const secrets = join(root, 'deploy', 'secrets');
const keysFile = join(secrets, 'jwt_signing_keys.json');
const rabbitFile = join(secrets, 'rabbitmq-definitions.json');
mkdirSync(secrets, { recursive: true });

/** Writes a file only it does not exist yet; says which. */
function once(file, make) {
  const name = file.slice(root.length + 1);
  if (existsSync(file)) return console.log(`kept    ${name}`);
  writeFileSync(file, make(), { mode: 0o600 });
  console.log(`wrote   ${name}`);
}

// Hex: safe in URLs (MONGO_URL, REDIS_URL, RABBITMQ_URL) and in Traefik's rendered config.
once(envFile, () =>
  readFileSync(join(repo, '.env.example'), 'utf8').replace(
    /=change-me$/gm,
    () => `=${randomBytes(24).toString('hex')}`,
  ),
);

once(keysFile, () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // No kid: the users service names the key by its RFC 7638 thumbprint.
  return `${JSON.stringify({ keys: [privateKey.export({ format: 'jwk' })] })}\n`;
});

const env = Object.fromEntries(
  readFileSync(envFile, 'utf8')
    .split('\n')
    .map((line) => /^([A-Z_]+)=(.*)$/.exec(line))
    .filter(Boolean)
    .map(([, key, value]) => [key, value]),
);
const required = (key) => {
  if (!env[key] || env[key] === 'change-me') throw new Error(`${key} is not set in ${envFile}`);
  return env[key];
};

/** RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)), 4-byte salt. */
function rabbitHash(password) {
  const salt = randomBytes(4);
  const hash = createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return Buffer.concat([salt, hash]).toString('base64');
}

// The adapter declares the exchange `capcheck.events` and its dead-letter exchange; a consumer
// declares `<prefix>.<name>` and `<prefix>.<name>.dead`, binds them, and republishes retries to its
// own queue through the default exchange (amq.default).
const events = '^capcheck\\.events(\\.dlx)?$';
const users = [
  { name: required('RABBITMQ_USER'), password: required('RABBITMQ_PASSWORD'), tags: ['administrator'] },
  { name: 'capcheck-images', password: required('RABBITMQ_IMAGES_PASSWORD'), tags: [] },
  { name: 'capcheck-inference', password: required('RABBITMQ_INFERENCE_PASSWORD'), tags: [] },
];
const permissions = [
  { user: users[0].name, configure: '.*', write: '.*', read: '.*' },
  { user: 'capcheck-images', configure: events, write: '^capcheck\\.events$', read: '^$' },
  {
    user: 'capcheck-inference',
    configure: '^(capcheck\\.events(\\.dlx)?|inference\\..*)$',
    write: '^(inference\\..*|amq\\.default)$',
    read: '^(capcheck\\.events(\\.dlx)?|inference\\..*)$',
  },
];
once(
  rabbitFile,
  () =>
    `${JSON.stringify(
      {
        users: users.map(({ name, password, tags }) => ({
          name,
          password_hash: rabbitHash(password),
          hashing_algorithm: 'rabbit_password_hashing_sha256',
          tags,
        })),
        vhosts: [{ name: '/' }],
        permissions: permissions.map((p) => ({ vhost: '/', ...p })),
      },
      null,
      2,
    )}\n`,
);
