import {
  createAccessTokenVerifier,
  localSigningKeys,
  withAccountCheck,
  type AccessTokenVerifier,
  type RateLimiterFactory,
} from '@capcheck/shared';
import type { Router } from 'express';
import type { UsersConfig } from './config';
import type { SigningKeyRing } from './data-access/signing-keys';
import type { Clock, PasswordHasher, UsersStore } from './domain/ports';
import { UsersDomain } from './domain/users';
import { createUsersRouter } from './entry-points/http/routes';

export interface UsersDeps {
  config: UsersConfig;
  store: UsersStore;
  rateLimiters: RateLimiterFactory;
  keyRing: SigningKeyRing;
  passwords: PasswordHasher;
  clock?: Clock;
}

/** The users service's routes plus the verifier for its own tokens (keys held in this process). */
export function createUsersService(deps: UsersDeps): { router: Router; verifier: AccessTokenVerifier } {
  const { config, rateLimiters } = deps;
  const window = config.LOGIN_THROTTLE_WINDOW_SECONDS;
  const domain = new UsersDomain({
    users: deps.store.users,
    refreshTokens: deps.store.refreshTokens,
    apiKeys: deps.store.apiKeys,
    passwords: deps.passwords,
    signer: deps.keyRing,
    clock: deps.clock ?? { now: () => new Date() },
    throttles: {
      loginPerAccount: rateLimiters.create({
        name: 'login-account',
        points: config.LOGIN_ATTEMPTS_PER_ACCOUNT,
        durationSeconds: window,
        failClosedAfterOutageSeconds: config.LOGIN_THROTTLE_FAIL_CLOSED_AFTER_SECONDS,
      }),
      loginPerIp: rateLimiters.create({
        name: 'login-ip',
        points: config.LOGIN_ATTEMPTS_PER_IP,
        durationSeconds: window,
        failClosedAfterOutageSeconds: config.LOGIN_THROTTLE_FAIL_CLOSED_AFTER_SECONDS,
      }),
      registerPerIp: rateLimiters.create({
        name: 'register-ip',
        points: config.REGISTRATIONS_PER_IP_PER_HOUR,
        durationSeconds: 3600,
      }),
      apiKeyFailuresPerIp: rateLimiters.create({
        name: 'apikey-ip',
        points: config.API_KEY_FAILURES_PER_IP,
        durationSeconds: window,
      }),
    },
    settings: {
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
      adminEmails: new Set(config.ADMIN_EMAILS),
      maxApiKeysPerUser: config.MAX_API_KEYS_PER_USER,
    },
  });
  // The account is read from the store on every request: admin routes see the current role at once.
  const verifier = withAccountCheck(
    createAccessTokenVerifier({
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      keys: localSigningKeys(() => deps.keyRing.publicJwks()),
    }),
    async ({ userId }) => {
      const user = await deps.store.users.findById(userId);
      return user && { role: user.role, disabled: user.disabled };
    },
  );
  return { router: createUsersRouter({ domain, verifier, keyRing: deps.keyRing }), verifier };
}
