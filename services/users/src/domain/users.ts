import {
  AppError,
  DuplicateKeyError,
  newId,
  type ApiKeyId,
  type Email,
  type Page,
  type PageRequest,
  type Principal,
  type RateLimitState,
  type RefreshTokenId,
  type Role,
  type TokenFamilyId,
  type UserId,
} from '@capcheck/shared';
import { apiKeyPrefix, hashSecret, randomSecret } from './credentials';
import type { ApiKeyRecord, UserRecord, UsersDomainDeps } from './ports';

export interface AccessGrant {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}
export interface LoginGrant extends AccessGrant {
  refreshToken: string;
}
export interface NewApiKey {
  record: ApiKeyRecord;
  /** The secret itself: returned once, never stored. */
  key: string;
}

const invalidCredentials = () => new AppError('unauthenticated', 'invalid_credentials', 'email or password is wrong');
const invalidRefreshToken = () =>
  new AppError('unauthenticated', 'invalid_refresh_token', 'the refresh token is invalid, expired or already used');
const invalidApiKey = () => new AppError('unauthenticated', 'invalid_api_key', 'the API key is invalid or revoked');
const throttled = (states: RateLimitState[]) =>
  new AppError('rate_limited', 'too_many_attempts', 'too many attempts; try again later', {
    retryAfterSeconds: Math.max(...states.map((s) => s.retryAfterSeconds)),
  });

/** Everything the users service does, in domain terms: no HTTP, no database. */
export class UsersDomain {
  /** Compared against when the email is unknown, so both failures cost one bcrypt check. */
  private readonly dummyHash: Promise<string>;

  constructor(private readonly deps: UsersDomainDeps) {
    this.dummyHash = deps.passwords.hash(randomSecret());
  }

  async register(email: Email, password: string, clientIp: string): Promise<UserRecord> {
    const budget = await this.deps.throttles.registerPerIp.consume(clientIp);
    if (!budget.allowed) throw throttled([budget]);
    const now = this.deps.clock.now();
    const user: UserRecord = {
      id: newId<UserId>(),
      email,
      passwordHash: await this.deps.passwords.hash(password),
      role: this.deps.settings.adminEmails.has(email) ? 'admin' : 'user',
      disabled: false,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.deps.users.create(user);
    } catch (err) {
      if (err instanceof DuplicateKeyError) {
        throw new AppError('conflict', 'email_taken', 'an account with this email already exists', { cause: err });
      }
      throw err;
    }
    return user;
  }

  async login(email: Email, password: string, clientIp: string): Promise<LoginGrant> {
    const { loginPerAccount, loginPerIp } = this.deps.throttles;
    // Every attempt spends budget before the password is checked, so parallel guesses cannot slip through.
    const budgets = await Promise.all([loginPerAccount.consume(email), loginPerIp.consume(clientIp)]);
    if (budgets.some((b) => !b.allowed)) throw throttled(budgets.filter((b) => !b.allowed));

    const user = await this.deps.users.findByEmail(email);
    const passwordMatches = await this.deps.passwords.verify(password, user?.passwordHash ?? (await this.dummyHash));
    if (!user || !passwordMatches) throw invalidCredentials();
    if (user.disabled) throw new AppError('forbidden', 'account_disabled', 'this account is disabled');

    await loginPerAccount.reset(email);
    return this.grant(user, newId<TokenFamilyId>());
  }

  /** Rotates the refresh token. A token used twice means it leaked: the whole family is revoked. */
  async refresh(refreshToken: string): Promise<LoginGrant> {
    const now = this.deps.clock.now();
    const stored = await this.deps.refreshTokens.findByHash(hashSecret(refreshToken));
    if (!stored || stored.revokedAt) throw invalidRefreshToken();
    if (!stored.usedAt && stored.expiresAt <= now) throw invalidRefreshToken();
    if (stored.usedAt || !(await this.deps.refreshTokens.markUsed(stored.id, now))) {
      await this.deps.refreshTokens.revokeFamily(stored.familyId, now);
      throw new AppError(
        'unauthenticated',
        'refresh_token_reused',
        'this refresh token was already used; sign in again',
      );
    }
    const user = await this.deps.users.findById(stored.userId);
    if (!user || user.disabled) {
      await this.deps.refreshTokens.revokeFamily(stored.familyId, now);
      throw invalidRefreshToken();
    }
    return this.grant(user, stored.familyId);
  }

  /** Ends the session the refresh token belongs to. Unknown tokens are ignored: logout is idempotent. */
  async logout(refreshToken: string): Promise<void> {
    const stored = await this.deps.refreshTokens.findByHash(hashSecret(refreshToken));
    if (stored) await this.deps.refreshTokens.revokeFamily(stored.familyId, this.deps.clock.now());
  }

  async exchangeApiKey(key: string, clientIp: string): Promise<AccessGrant> {
    const failures = this.deps.throttles.apiKeyFailuresPerIp;
    const budget = await failures.peek(clientIp);
    if (!budget.allowed) throw throttled([budget]);
    const stored = key.startsWith(apiKeyPrefix) ? await this.deps.apiKeys.findByHash(hashSecret(key)) : null;
    const user = stored && !stored.revokedAt ? await this.deps.users.findById(stored.userId) : null;
    if (!stored || !user || user.disabled) {
      await failures.consume(clientIp);
      throw invalidApiKey();
    }
    await this.deps.apiKeys.touch(stored.id, this.deps.clock.now());
    return this.accessGrant({ userId: user.id, role: user.role, apiKeyId: stored.id });
  }

  /** The caller's own account; a token outliving its (deleted or disabled) user is refused. */
  async me(principal: Principal): Promise<UserRecord> {
    const user = await this.deps.users.findById(principal.userId);
    if (!user || user.disabled) {
      throw new AppError('unauthenticated', 'invalid_token', 'the access token is missing, invalid or expired');
    }
    return user;
  }

  async createApiKey(principal: Principal, name: string): Promise<NewApiKey> {
    const active = await this.deps.apiKeys.listActiveByUser(principal.userId);
    if (active.length >= this.deps.settings.maxApiKeysPerUser) {
      throw new AppError(
        'conflict',
        'too_many_api_keys',
        `at most ${this.deps.settings.maxApiKeysPerUser} active API keys`,
      );
    }
    const key = `${apiKeyPrefix}${randomSecret()}`;
    const record: ApiKeyRecord = {
      id: newId<ApiKeyId>(),
      userId: principal.userId,
      name,
      prefix: key.slice(0, apiKeyPrefix.length + 8),
      keyHash: hashSecret(key),
      createdAt: this.deps.clock.now(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.deps.apiKeys.create(record);
    return { record, key };
  }

  listApiKeys(principal: Principal): Promise<ApiKeyRecord[]> {
    return this.deps.apiKeys.listActiveByUser(principal.userId);
  }

  /** Someone else's key, or no key at all, is the same "not found". */
  async revokeApiKey(principal: Principal, id: ApiKeyId | null): Promise<void> {
    const revoked = id !== null && (await this.deps.apiKeys.revoke(id, principal.userId, this.deps.clock.now()));
    if (!revoked) throw new AppError('not_found', 'not_found', 'API key not found');
  }

  listUsers(page: PageRequest): Promise<Page<UserRecord>> {
    return this.deps.users.list(page);
  }

  /** Admin change of role or disabled flag. Disabling also ends every session of that user. */
  async updateUser(
    admin: Principal,
    id: UserId | null,
    patch: { role?: Role; disabled?: boolean },
  ): Promise<UserRecord> {
    if (id === admin.userId) {
      throw new AppError('conflict', 'cannot_change_self', 'admins cannot change their own role or status');
    }
    const now = this.deps.clock.now();
    const updated = id === null ? null : await this.deps.users.update(id, patch, now);
    if (!updated) throw new AppError('not_found', 'not_found', 'user not found');
    if (patch.disabled) await this.deps.refreshTokens.revokeAllForUser(updated.id, now);
    return updated;
  }

  private async grant(user: UserRecord, familyId: TokenFamilyId): Promise<LoginGrant> {
    const now = this.deps.clock.now();
    const refreshToken = randomSecret();
    await this.deps.refreshTokens.create({
      id: newId<RefreshTokenId>(),
      userId: user.id,
      familyId,
      tokenHash: hashSecret(refreshToken),
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.deps.settings.refreshTokenTtlSeconds * 1000),
      usedAt: null,
      revokedAt: null,
    });
    return { ...(await this.accessGrant({ userId: user.id, role: user.role })), refreshToken };
  }

  private async accessGrant(principal: Principal): Promise<AccessGrant> {
    const ttl = this.deps.settings.accessTokenTtlSeconds;
    return { accessToken: await this.deps.signer.sign(principal, ttl), tokenType: 'Bearer', expiresIn: ttl };
  }
}
