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

export function createAccessTokenVerifier(options: {
  issuer: string;
  audience: string;
  keys: JWTVerifyGetKey;
}): AccessTokenVerifier {
  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, options.keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: [accessTokenAlgorithm],
          typ: accessTokenType,
          requiredClaims: ['sub', 'exp', 'iat'],
          clockTolerance: 5,
        });
        const claims = claimsSchema.parse(payload);
        const principal: Principal = { userId: claims.sub as UserId, role: claims.role };
        if (claims.akid) principal.apiKeyId = claims.akid as ApiKeyId;
        return principal;
      } catch {
        // One answer for every failure: which check failed is not the caller's business.
        throw new AppError('unauthenticated', 'invalid_token', 'the access token is missing, invalid or expired');
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

/** Keys held in the same process (the local all-in-one process): read fresh on each call, so rotation applies at once. */
export const localSigningKeys =
  (publicKeys: () => JSONWebKeySet): JWTVerifyGetKey =>
  (header, token) =>
    createLocalJWKSet(publicKeys())(header, token);
