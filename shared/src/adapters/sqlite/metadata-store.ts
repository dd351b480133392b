import type { ApiKeyId, Email, ImageId, RefreshTokenId, Role, TokenFamilyId, UserId } from '../../ids';
import type { ImageFormat } from '../../ports/events';
import { DuplicateKeyError } from '../../errors';
import {
  decodeCursor,
  encodeCursor,
  type ApiKeyRecord,
  type ApiKeyRepository,
  type ImageRecord,
  type ImageRepository,
  type PredictionLogQuery,
  type PredictionLogRecord,
  type PredictionLogRepository,
  type PredictionRecord,
  type PredictionRepository,
  type MetadataStore,
  type Page,
  type PageRequest,
  type RefreshTokenRecord,
  type RefreshTokenRepository,
  type UserRecord,
  type UserRepository,
} from '../../ports/metadata';
import { cachedStatements, openSqlite, type StatementSource } from './database';

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

interface ImageRow {
  id: string;
  owner_id: string;
  filename: string;
  format: ImageFormat;
  width: number;
  height: number;
  size_bytes: number;
  sha256: string;
  object_key: string;
  created_at: number;
}

const toImage = (r: ImageRow): ImageRecord => ({
  id: r.id as ImageId,
  ownerId: r.owner_id as UserId,
  filename: r.filename,
  format: r.format,
  width: r.width,
  height: r.height,
  sizeBytes: r.size_bytes,
  sha256: r.sha256,
  objectKey: r.object_key,
  createdAt: new Date(r.created_at),
});

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

const isUniqueViolation = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';

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
      if (isUniqueViolation(err)) throw new DuplicateKeyError('email already registered');
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
    const items = rows.slice(0, limit).map(toUser);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
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

class SqliteImages implements ImageRepository {
  constructor(private readonly db: StatementSource) {}

  async create(i: ImageRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO images (id, owner_id, filename, format, width, height, size_bytes, sha256, object_key, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        i.id,
        i.ownerId,
        i.filename,
        i.format,
        i.width,
        i.height,
        i.sizeBytes,
        i.sha256,
        i.objectKey,
        i.createdAt.getTime(),
      );
  }

  async findOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null> {
    const row = this.db.prepare('SELECT * FROM images WHERE id = ? AND owner_id = ?').get(id, ownerId) as
      ImageRow | undefined;
    return row ? toImage(row) : null;
  }

  async listOwned(ownerId: UserId, { limit, cursor }: PageRequest): Promise<Page<ImageRecord>> {
    const before = decodeCursor(cursor);
    const rows = (
      before
        ? this.db
            .prepare(
              `SELECT * FROM images WHERE owner_id = ? AND (created_at, id) < (?, ?)
               ORDER BY created_at DESC, id DESC LIMIT ?`,
            )
            .all(ownerId, before.createdAt.getTime(), before.id, limit + 1)
        : this.db
            .prepare('SELECT * FROM images WHERE owner_id = ? ORDER BY created_at DESC, id DESC LIMIT ?')
            .all(ownerId, limit + 1)
    ) as ImageRow[];
    const items = rows.slice(0, limit).map(toImage);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }

  async deleteOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null> {
    const row = this.db.prepare('DELETE FROM images WHERE id = ? AND owner_id = ? RETURNING *').get(id, ownerId) as
      ImageRow | undefined;
    return row ? toImage(row) : null;
  }

  async countBySha256(sha256: string): Promise<number> {
    const row = this.db.prepare('SELECT COUNT(*) AS n FROM images WHERE sha256 = ?').get(sha256) as { n: number };
    return row.n;
  }
}

interface PredictionRow {
  sha256: string;
  model_name: string;
  model_version: string;
  label: string;
  confidence: number;
  scores: string;
  created_at: number;
}

class SqlitePredictions implements PredictionRepository {
  constructor(private readonly db: StatementSource) {}

  async find(sha256: string, modelName: string, modelVersion: string): Promise<PredictionRecord | null> {
    const row = this.db
      .prepare('SELECT * FROM predictions WHERE sha256 = ? AND model_name = ? AND model_version = ?')
      .get(sha256, modelName, modelVersion) as PredictionRow | undefined;
    return row
      ? {
          sha256: row.sha256,
          modelName: row.model_name,
          modelVersion: row.model_version,
          label: row.label,
          confidence: row.confidence,
          scores: JSON.parse(row.scores) as Record<string, number>,
          createdAt: new Date(row.created_at),
        }
      : null;
  }

  async save(p: PredictionRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO predictions (sha256, model_name, model_version, label, confidence, scores, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
      .run(
        p.sha256,
        p.modelName,
        p.modelVersion,
        p.label,
        p.confidence,
        JSON.stringify(p.scores),
        p.createdAt.getTime(),
      );
  }

  async deleteBySha256(sha256: string): Promise<number> {
    return this.db.prepare('DELETE FROM predictions WHERE sha256 = ?').run(sha256).changes;
  }
}

interface PredictionLogRow {
  id: string;
  at: number;
  image_id: string;
  user_id: string;
  api_key_id: string | null;
  client_ip: string;
  user_agent: string;
  image_format: ImageFormat;
  image_sha256: string;
  label: string;
  confidence: number;
  model_name: string;
  model_version: string;
  cached: number;
  latency_ms: number;
}

const toPredictionLog = (r: PredictionLogRow): PredictionLogRecord => ({
  id: r.id,
  at: new Date(r.at),
  imageId: r.image_id as ImageId,
  userId: r.user_id as UserId,
  apiKeyId: r.api_key_id as ApiKeyId | null,
  clientIp: r.client_ip,
  userAgent: r.user_agent,
  imageFormat: r.image_format,
  imageSha256: r.image_sha256,
  label: r.label,
  confidence: r.confidence,
  modelName: r.model_name,
  modelVersion: r.model_version,
  cached: r.cached === 1,
  latencyMs: r.latency_ms,
});

class SqlitePredictionLogs implements PredictionLogRepository {
  /** Records of this event-loop turn, waiting for one transaction, and their callers. */
  private waiting: { record: PredictionLogRecord; written: (err?: unknown) => void }[] = [];
  private readonly insertAll: (records: PredictionLogRecord[]) => void;

  constructor(private readonly db: StatementSource) {
    this.insertAll = db.transaction((records: PredictionLogRecord[]) => {
      for (const record of records) this.insert(record);
    });
  }

  /**
   * The records of requests that arrive in the same event-loop turn are written in one transaction:
   * one WAL commit instead of one per request. Each caller's promise still settles only once its own
   * record is written (or failed), so nothing is acknowledged before it is stored.
   */
  append(record: PredictionLogRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ record, written: (err) => (err === undefined ? resolve() : reject(err)) });
      if (this.waiting.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.waiting;
    this.waiting = [];
    try {
      this.insertAll(batch.map((w) => w.record));
      for (const w of batch) w.written();
    } catch {
      // The transaction rolled back as a whole: one at a time, so a bad record fails alone.
      for (const w of batch) {
        try {
          this.insert(w.record);
          w.written();
        } catch (err) {
          w.written(err);
        }
      }
    }
  }

  private insert(l: PredictionLogRecord): void {
    this.db
      .prepare(
        `INSERT INTO prediction_logs (id, at, image_id, user_id, api_key_id, client_ip, user_agent, image_format,
           image_sha256, label, confidence, model_name, model_version, cached, latency_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        l.id,
        l.at.getTime(),
        l.imageId,
        l.userId,
        l.apiKeyId,
        l.clientIp,
        l.userAgent,
        l.imageFormat,
        l.imageSha256,
        l.label,
        l.confidence,
        l.modelName,
        l.modelVersion,
        l.cached ? 1 : 0,
        l.latencyMs,
      );
  }

  async query({ from, to, label, limit, cursor }: PredictionLogQuery): Promise<Page<PredictionLogRecord>> {
    const before = decodeCursor(cursor);
    const conditions = ['at >= ?', 'at < ?'];
    const params: (string | number)[] = [from.getTime(), to.getTime()];
    if (label !== undefined) {
      conditions.push('label = ?');
      params.push(label);
    }
    if (before) {
      conditions.push('(at, id) < (?, ?)');
      params.push(before.createdAt.getTime(), before.id);
    }
    const rows = this.db
      .prepare(`SELECT * FROM prediction_logs WHERE ${conditions.join(' AND ')} ORDER BY at DESC, id DESC LIMIT ?`)
      .all(...params, limit + 1) as PredictionLogRow[];
    const items = rows.slice(0, limit).map(toPredictionLog);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.at, last.id) : null };
  }

  async deleteOlderThan(date: Date): Promise<number> {
    return this.db.prepare('DELETE FROM prediction_logs WHERE at < ?').run(date.getTime()).changes;
  }
}

/** The embedded default: one SQLite file holds every repository. */
export function createSqliteMetadataStore(path: string): MetadataStore {
  const db = openSqlite(path);
  const statements = cachedStatements(db);
  return {
    users: new SqliteUsers(statements),
    refreshTokens: new SqliteRefreshTokens(statements),
    apiKeys: new SqliteApiKeys(statements),
    images: new SqliteImages(statements),
    predictions: new SqlitePredictions(statements),
    predictionLogs: new SqlitePredictionLogs(statements),
    async ping() {
      statements.prepare('SELECT 1').get();
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
