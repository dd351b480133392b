import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { AppError } from '../errors';
import type { ApiKeyId, UserId } from '../ids';
import { accessTokenAlgorithm, accessTokenType, type Principal } from './principal';

export interface AccessTokenVerifier {
  /** Resolves to the caller, or rejects with an `unauthenticated` AppError. */
  verify(token: string): Promise<Principal>;
}

const claimsSchema = z.object({
  sub: z.string().min(1),
  role: z.enum(['user', 'admin']),
  akid: z.string().optional(),
});

export interface VerifierOptions {
  issuer: string;
  audience: string;
  keys: JWTVerifyGetKey;
  /** Verified tokens remembered, so a client's repeated token costs one signature check (default 10,000). */
  cacheSize?: number;
  /** The longest a verified token is trusted without checking again, so a removed key stops working soon (default 60 s). */
  cacheSeconds?: number;
  /** For tests: the time the verifier believes it is. */
  now?: () => Date;
}

export function createAccessTokenVerifier(options: VerifierOptions): AccessTokenVerifier {
  const now = options.now ?? (() => new Date());
  const maxEntries = options.cacheSize ?? 10_000;
  const maxAgeMs = (options.cacheSeconds ?? 60) * 1000;
  // Insertion-ordered: the oldest entry is evicted first when full.
  const verified = new Map<string, { principal: Principal; until: number }>();

  return {
    async verify(token) {
      const at = now().getTime();
      const hit = verified.get(token);
      if (hit && hit.until > at) return hit.principal;
      if (hit) verified.delete(token);
      try {
        const { payload } = await jwtVerify(token, options.keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: [accessTokenAlgorithm],
          typ: accessTokenType,
          requiredClaims: ['sub', 'exp', 'iat'],
          clockTolerance: 5,
          currentDate: new Date(at),
        });
        const claims = claimsSchema.parse(payload);
        const principal: Principal = { userId: claims.sub as UserId, role: claims.role };
        if (claims.akid) principal.apiKeyId = claims.akid as ApiKeyId;
        if (maxEntries > 0) {
          if (verified.size >= maxEntries) verified.delete(verified.keys().next().value as string);
          verified.set(token, { principal, until: Math.min((payload.exp ?? 0) * 1000, at + maxAgeMs) });
        }
        return principal;
      } catch (err) {
        // One answer for every failure: which check failed is not the caller's business (the logs keep it).
        throw new AppError('unauthenticated', 'invalid_token', 'the access token is missing, invalid or expired', {
          cause: err,
        });
      }
    },
  };
}

/**
 * Keys from the users service's JWKS endpoint, kept on disk too: a process that starts while users is
 * down verifies tokens with the key set it saved last time (or one an operator put in the file).
 * A token naming an unknown `kid` triggers at most one fetch per `cooldownMs`, shared by every caller
 * meanwhile, each bounded by `timeoutMs`; the set is refreshed in the background after `maxAgeMs`.
 */
export function remoteSigningKeys(options: {
  url: string;
  cacheFile?: string;
  timeoutMs?: number;
  cooldownMs?: number;
  maxAgeMs?: number;
}): JWTVerifyGetKey {
  const { url, cacheFile } = options;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const cooldownMs = options.cooldownMs ?? 30_000;
  const maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
  let keySet: JWTVerifyGetKey | undefined;
  let fetchedAt = 0;
  let attemptedAt = 0;
  let pending: Promise<void> | undefined;

  const use = (jwks: JSONWebKeySet) => {
    keySet = createLocalJWKSet(jwks);
  };
  if (cacheFile) {
    try {
      use(jwksSchema.parse(JSON.parse(readFileSync(cacheFile, 'utf8'))) as JSONWebKeySet);
    } catch {
      // no saved key set yet (or an unreadable one): the first token fetches it
    }
  }
  const refresh = () =>
    (pending ??= (async () => {
      attemptedAt = Date.now();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) return;
        const jwks = jwksSchema.parse(await res.json()) as JSONWebKeySet;
        use(jwks);
        fetchedAt = Date.now();
        if (cacheFile) await saveAtomically(cacheFile, JSON.stringify(jwks)).catch(() => undefined);
      } catch {
        // users unreachable or a bad answer: keep what we have; the cooldown bounds the next try
      } finally {
        pending = undefined;
      }
    })());

  return async (header, token) => {
    if (!keySet) await refresh();
    else if (Date.now() - fetchedAt > maxAgeMs && Date.now() - attemptedAt > cooldownMs) void refresh();
    if (!keySet) throw new Error('no key set: the users service has not been reached yet');
    try {
      return await keySet(header, token);
    } catch (err) {
      const unknownKid = (err as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY';
      if (!unknownKid) throw err;
      // A fetch under way (e.g. the background refresh of a key set loaded from a stale file) may bring it.
      if (pending) await pending;
      else if (Date.now() - attemptedAt < cooldownMs) throw err;
      else await refresh();
      return keySet(header, token);
    }
  };
}

/** Just enough to refuse something that is not a key set; jose checks each key when it imports it. */
const jwksSchema = z.object({ keys: z.array(z.looseObject({ kty: z.string() })).min(1) });

async function saveAtomically(file: string, content: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content);
  await rename(temporary, file);
}

/**
 * Keys held in the same process (the local all-in-one process). The key set is rebuilt only when the
 * JWKS object changes (a rotation), not on every token: importing a JWK costs more than verifying.
 */
export function localSigningKeys(publicKeys: () => JSONWebKeySet): JWTVerifyGetKey {
  let source: JSONWebKeySet | undefined;
  let keySet: JWTVerifyGetKey | undefined;
  return (header, token) => {
    const current = publicKeys();
    if (current !== source || !keySet) {
      source = current;
      keySet = createLocalJWKSet(current);
    }
    return keySet(header, token);
  };
}
