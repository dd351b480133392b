import type {
  ApiKeyId,
  Email,
  Page,
  PageRequest,
  Principal,
  RateLimiter,
  RefreshTokenId,
  Role,
  StoreLifecycle,
  TokenFamilyId,
  UserId,
} from '@capcheck/shared';

export interface UserRecord {
  id: UserId;
  email: Email;
  passwordHash: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserRepository {
  /** Rejects with DuplicateKeyError when the email is taken. */
  create(user: UserRecord): Promise<void>;
  findById(id: UserId): Promise<UserRecord | null>;
  findByEmail(email: Email): Promise<UserRecord | null>;
  /** Oldest first. An unreadable cursor is treated as the start. */
  list(page: PageRequest): Promise<Page<UserRecord>>;
  update(id: UserId, patch: { role?: Role; disabled?: boolean }, at: Date): Promise<UserRecord | null>;
}

export interface RefreshTokenRecord {
  id: RefreshTokenId;
  userId: UserId;
  /** Every token rotated from one login shares a family; reuse of any revokes them all. */
  familyId: TokenFamilyId;
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

export interface RefreshTokenRepository {
  create(token: RefreshTokenRecord): Promise<void>;
  findByHash(tokenHash: string): Promise<RefreshTokenRecord | null>;
  /** Atomically marks an unused, unrevoked token used; false if someone else got there first. */
  markUsed(id: RefreshTokenId, at: Date): Promise<boolean>;
  revokeFamily(familyId: TokenFamilyId, at: Date): Promise<void>;
  revokeAllForUser(userId: UserId, at: Date): Promise<void>;
}

export interface ApiKeyRecord {
  id: ApiKeyId;
  userId: UserId;
  name: string;
  /** The first characters of the key, shown in lists so people can tell keys apart. */
  prefix: string;
  keyHash: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface ApiKeyRepository {
  create(key: ApiKeyRecord): Promise<void>;
  findByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  /** Keys that are not revoked, newest first. */
  listActiveByUser(userId: UserId): Promise<ApiKeyRecord[]>;
  /** Revokes the key if it belongs to that user and is active; false otherwise. */
  revoke(id: ApiKeyId, userId: UserId, at: Date): Promise<boolean>;
  touch(id: ApiKeyId, at: Date): Promise<void>;
}

/** Everything the users service keeps: its repositories and the store's lifecycle. */
export interface UsersStore extends StoreLifecycle {
  readonly users: UserRepository;
  readonly refreshTokens: RefreshTokenRepository;
  readonly apiKeys: ApiKeyRepository;
}

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

/** What the users domain works with. */
export interface UsersDomainDeps {
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
