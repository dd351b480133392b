#!/usr/bin/env node
// Makes what docker compose needs and the repository must never hold:
//   .env                               from .env.example, every `change-me` a fresh random value
//   deploy/secrets/jwt_signing_keys.json  {"keys":[a private EC P-256 JWK]} for the users service
// Existing files are kept (run it again safely); delete one to make it anew.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const envFile = join(root, '.env');
const keysFile = join(root, 'deploy', 'secrets', 'jwt_signing_keys.json');

if (existsSync(envFile)) {
  console.log('kept    .env');
} else {
  // Hex: safe in URLs (MONGO_URL, REDIS_URL) and in Traefik's rendered config.
  const env = readFileSync(join(root, '.env.example'), 'utf8').replace(
    /=change-me$/gm,
    () => `=${randomBytes(24).toString('hex')}`,
  );
  writeFileSync(envFile, env, { mode: 0o600 });
  console.log('wrote   .env');
}

if (existsSync(keysFile)) {
  console.log('kept    deploy/secrets/jwt_signing_keys.json');
} else {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // No kid: the users service names the key by its RFC 7638 thumbprint.
  const jwk = privateKey.export({ format: 'jwk' });
  writeFileSync(keysFile, `${JSON.stringify({ keys: [jwk] })}\n`, { mode: 0o600 });
  console.log('wrote   deploy/secrets/jwt_signing_keys.json');
}
