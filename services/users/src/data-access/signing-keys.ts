import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type JSONWebKeySet,
  type JWK,
  type KeyLike,
} from 'jose';
import { z } from 'zod';
import { accessTokenAlgorithm, accessTokenType, ConfigError, type Principal } from '@capcheck/shared';
import type { AccessTokenSigner } from '../domain/ports';

interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  publicJwk: JWK;
}

/**
 * The users service's private keys. The first key signs; every key is published in the JWKS, so a
 * rotation is: put a new key first, keep the old one until the tokens it signed have expired, drop it.
 */
export interface SigningKeyRing extends AccessTokenSigner {
  readonly activeKid: string;
  publicJwks(): JSONWebKeySet;
}

const privateJwkSchema = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string(),
  y: z.string(),
  d: z.string(),
  kid: z.string().min(1).optional(),
});
const privateJwksSchema = z.object({ keys: z.array(privateJwkSchema).min(1) });

export function createSigningKeyRing(
  keys: SigningKey[],
  options: { issuer: string; audience: string },
): SigningKeyRing {
  const [active] = keys;
  if (!active) throw new Error('a signing key ring needs at least one key');
  const jwks: JSONWebKeySet = { keys: keys.map((k) => k.publicJwk) };
  return {
    activeKid: active.kid,
    publicJwks: () => jwks,
    async sign(principal: Principal, ttlSeconds: number) {
      const claims: Record<string, string> = { role: principal.role };
      if (principal.apiKeyId) claims.akid = principal.apiKeyId;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: accessTokenAlgorithm, kid: active.kid, typ: accessTokenType })
        .setSubject(principal.userId)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .setJti(randomUUID())
        .sign(active.privateKey);
    },
  };
}

/** Reads `{"keys": [private EC P-256 JWKs]}` (from env or a secret file); throws naming what is wrong. */
export async function importSigningKeys(jwksJson: string): Promise<SigningKey[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jwksJson);
  } catch {
    // No cause on purpose: JSON.parse's message quotes the text, and this text is a private key.
    throw new ConfigError('Invalid configuration:\n  JWT_SIGNING_KEYS: not valid JSON');
  }
  const result = privateJwksSchema.safeParse(parsed);
  if (!result.success) {
    throw new ConfigError('Invalid configuration:\n  JWT_SIGNING_KEYS: must be {"keys": [private EC P-256 JWKs]}');
  }
  return Promise.all(
    result.data.keys.map(async (jwk) => {
      const { d: _private, ...publicPart } = jwk;
      const kid = jwk.kid ?? (await calculateJwkThumbprint(publicPart));
      return {
        kid,
        privateKey: (await importJWK({ ...jwk, alg: accessTokenAlgorithm }, accessTokenAlgorithm)) as KeyLike,
        publicJwk: { ...publicPart, kid, alg: accessTokenAlgorithm, use: 'sig' },
      };
    }),
  );
}

export async function generateSigningJwks(): Promise<{ keys: JWK[] }> {
  const { privateKey } = await generateKeyPair(accessTokenAlgorithm, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _private, ...publicPart } = jwk;
  return { keys: [{ ...jwk, kid: await calculateJwkThumbprint(publicPart) }] };
}

/** The local process keeps its keys in a file under the data directory, made on first start (mode 0600). */
export async function loadOrCreateSigningKeyFile(path: string): Promise<SigningKey[]> {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, JSON.stringify(await generateSigningJwks(), null, 2), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(path, 0o600);
  return importSigningKeys(readFileSync(path, 'utf8'));
}

/** Keys from JWT_SIGNING_KEYS (production), or the local key file under DATA_DIR, made on first start. */
export async function loadSigningKeyRing(config: {
  JWT_SIGNING_KEYS?: string | undefined;
  DATA_DIR: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
}): Promise<SigningKeyRing> {
  const keys = config.JWT_SIGNING_KEYS
    ? await importSigningKeys(config.JWT_SIGNING_KEYS)
    : await loadOrCreateSigningKeyFile(join(resolve(config.DATA_DIR), 'keys', 'signing-keys.json'));
  return createSigningKeyRing(keys, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
}
