import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
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
 * Keys from the users service's JWKS endpoint. jose caches them and refetches (rate-limited) when a
 * token names a `kid` it has not seen, which is how key rotation reaches every replica.
 */
export const remoteSigningKeys = (jwksUrl: string): JWTVerifyGetKey =>
  createRemoteJWKSet(new URL(jwksUrl), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000 });

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
