import {
  decodeCursor,
  DuplicateKeyError,
  isUniqueViolation,
  openSqliteStore,
  toPage,
  type ApiKeyId,
  type Email,
  type Page,
  type PageRequest,
  type RefreshTokenId,
  type Role,
  type StatementSource,
  type TokenFamilyId,
  type UserId,
} from '@capcheck/shared';
import type {
  ApiKeyRecord,
  ApiKeyRepository,
  RefreshTokenRecord,
  RefreshTokenRepository,
  UserRecord,
  UserRepository,
  UsersStore,
} from '../../domain/ports';
import { usersSchema } from './migrations';

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  role: Role;
  disabled: number;
  created_at: number;
  updated_at: number;
}
interface RefreshTokenRow {
  id: string;
  user_id: string;
  family_id: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}
interface ApiKeyRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const dateOrNull = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

const toUser = (r: UserRow): UserRecord => ({
  id: r.id as UserId,
  email: r.email as Email,
  passwordHash: r.password_hash,
  role: r.role,
  disabled: r.disabled === 1,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});
const toRefreshToken = (r: RefreshTokenRow): RefreshTokenRecord => ({
  id: r.id as RefreshTokenId,
  userId: r.user_id as UserId,
  familyId: r.family_id as TokenFamilyId,
  tokenHash: r.token_hash,
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
  usedAt: dateOrNull(r.used_at),
  revokedAt: dateOrNull(r.revoked_at),
});
const toApiKey = (r: ApiKeyRow): ApiKeyRecord => ({
  id: r.id as ApiKeyId,
  userId: r.user_id as UserId,
  name: r.name,
  prefix: r.prefix,
  keyHash: r.key_hash,
  createdAt: new Date(r.created_at),
  lastUsedAt: dateOrNull(r.last_used_at),
  revokedAt: dateOrNull(r.revoked_at),
});

class SqliteUsers implements UserRepository {
  constructor(private readonly db: StatementSource) {}

  async create(u: UserRecord): Promise<void> {
    try {
      this.db
        .prepare(
          `INSERT INTO users (id, email, password_hash, role, disabled, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(u.id, u.email, u.passwordHash, u.role, u.disabled ? 1 : 0, u.createdAt.getTime(), u.updatedAt.getTime());
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateKeyError('email already registered', { cause: err });
      throw err;
    }
  }

  async findById(id: UserId): Promise<UserRecord | null> {
    const row = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async findByEmail(email: Email): Promise<UserRecord | null> {
    const row = this.db.prepare('SELECT * FROM users WHERE email = ?').get(email) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async list({ limit, cursor }: PageRequest): Promise<Page<UserRecord>> {
    const after = decodeCursor(cursor);
    const rows = (
      after
        ? this.db
            .prepare(`SELECT * FROM users WHERE (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?`)
            .all(after.createdAt.getTime(), after.id, limit + 1)
        : this.db.prepare('SELECT * FROM users ORDER BY created_at, id LIMIT ?').all(limit + 1)
    ) as UserRow[];
    return toPage(rows.map(toUser), limit, (u) => [u.createdAt, u.id]);
  }

  async update(id: UserId, patch: { role?: Role; disabled?: boolean }, at: Date): Promise<UserRecord | null> {
    this.db
      .prepare(
        `UPDATE users SET role = COALESCE(?, role), disabled = COALESCE(?, disabled), updated_at = ? WHERE id = ?`,
      )
      .run(patch.role ?? null, patch.disabled === undefined ? null : patch.disabled ? 1 : 0, at.getTime(), id);
    return this.findById(id);
  }
}

class SqliteRefreshTokens implements RefreshTokenRepository {
  constructor(private readonly db: StatementSource) {}

  async create(t: RefreshTokenRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at, used_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        t.id,
        t.userId,
        t.familyId,
        t.tokenHash,
        t.createdAt.getTime(),
        t.expiresAt.getTime(),
        t.usedAt?.getTime() ?? null,
        t.revokedAt?.getTime() ?? null,
      );
  }

  async findByHash(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const row = this.db.prepare('SELECT * FROM refresh_tokens WHERE token_hash = ?').get(tokenHash) as
      RefreshTokenRow | undefined;
    return row ? toRefreshToken(row) : null;
  }

  async markUsed(id: RefreshTokenId, at: Date): Promise<boolean> {
    const result = this.db
      .prepare('UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL')
      .run(at.getTime(), id);
    return result.changes === 1;
  }

  async revokeFamily(familyId: TokenFamilyId, at: Date): Promise<void> {
    this.db
      .prepare('UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL')
      .run(at.getTime(), familyId);
  }

  async revokeAllForUser(userId: UserId, at: Date): Promise<void> {
    this.db
      .prepare('UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL')
      .run(at.getTime(), userId);
  }
}

class SqliteApiKeys implements ApiKeyRepository {
  constructor(private readonly db: StatementSource) {}

  async create(k: ApiKeyRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, last_used_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        k.id,
        k.userId,
        k.name,
        k.prefix,
        k.keyHash,
        k.createdAt.getTime(),
        k.lastUsedAt?.getTime() ?? null,
        k.revokedAt?.getTime() ?? null,
      );
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    const row = this.db.prepare('SELECT * FROM api_keys WHERE key_hash = ?').get(keyHash) as ApiKeyRow | undefined;
    return row ? toApiKey(row) : null;
  }

  async listActiveByUser(userId: UserId): Promise<ApiKeyRecord[]> {
    const rows = this.db
      .prepare('SELECT * FROM api_keys WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at DESC, id')
      .all(userId) as ApiKeyRow[];
    return rows.map(toApiKey);
  }

  async revoke(id: ApiKeyId, userId: UserId, at: Date): Promise<boolean> {
    const result = this.db
      .prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL')
      .run(at.getTime(), id, userId);
    return result.changes === 1;
  }

  async touch(id: ApiKeyId, at: Date): Promise<void> {
    this.db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(at.getTime(), id);
  }
}

/** The users service's tables in a SQLite file (which other services' tables may share). */
export function createSqliteUsersStore(path: string): UsersStore {
  return openSqliteStore(path, usersSchema, (db) => ({
    users: new SqliteUsers(db),
    refreshTokens: new SqliteRefreshTokens(db),
    apiKeys: new SqliteApiKeys(db),
  }));
}
