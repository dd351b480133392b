import type {
  ApiKeyRepository,
  Principal,
  RateLimiter,
  RefreshTokenRepository,
  UserRepository,
} from '@capcheck/shared';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}

export interface AccessTokenSigner {
  /** A signed, short-lived access token for that principal. */
  sign(principal: Principal, ttlSeconds: number): Promise<string>;
}

export interface Clock {
  now(): Date;
}

export interface UsersSettings {
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Emails that get the admin role when they register: how the first admin comes to be. */
  adminEmails: ReadonlySet<string>;
  maxApiKeysPerUser: number;
}

export interface UsersDeps {
  users: UserRepository;
  refreshTokens: RefreshTokenRepository;
  apiKeys: ApiKeyRepository;
  passwords: PasswordHasher;
  signer: AccessTokenSigner;
  clock: Clock;
  throttles: {
    /** Login attempts per account (email). */
    loginPerAccount: RateLimiter;
    /** Login attempts per client IP. */
    loginPerIp: RateLimiter;
    /** Registrations per client IP. */
    registerPerIp: RateLimiter;
    /** Failed API-key exchanges per client IP. */
    apiKeyFailuresPerIp: RateLimiter;
  };
  settings: UsersSettings;
}
