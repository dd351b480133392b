import { createConnection, type FilterQuery, type Model } from 'mongoose';
import type { ApiKeyId, Email, ImageId, RefreshTokenId, Role, TokenFamilyId, UserId } from '../../ids';
import { DuplicateKeyError } from '../../errors';
import {
  decodeCursor,
  encodeCursor,
  type ApiKeyRecord,
  type ApiKeyRepository,
  type ImageRecord,
  type ImageRepository,
  type MetadataStore,
  type Page,
  type PageRequest,
  type PredictionLogQuery,
  type PredictionLogRecord,
  type PredictionLogRepository,
  type PredictionRecord,
  type PredictionRepository,
  type RefreshTokenRecord,
  type RefreshTokenRepository,
  type UserRecord,
  type UserRepository,
} from '../../ports/metadata';
import {
  createMetadataModels,
  type ApiKeyDocument,
  type ImageDocument,
  type PredictionDocument,
  type PredictionLogDocument,
  type RefreshTokenDocument,
  type UserDocument,
} from './schemas';

const toUser = (d: UserDocument): UserRecord => ({
  id: d._id as UserId,
  email: d.email as Email,
  passwordHash: d.passwordHash,
  role: d.role,
  disabled: d.disabled,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});
const fromUser = (u: UserRecord): UserDocument => ({
  _id: u.id,
  email: u.email,
  passwordHash: u.passwordHash,
  role: u.role,
  disabled: u.disabled,
  createdAt: u.createdAt,
  updatedAt: u.updatedAt,
});

const toRefreshToken = (d: RefreshTokenDocument): RefreshTokenRecord => ({
  id: d._id as RefreshTokenId,
  userId: d.userId as UserId,
  familyId: d.familyId as TokenFamilyId,
  tokenHash: d.tokenHash,
  createdAt: d.createdAt,
  expiresAt: d.expiresAt,
  usedAt: d.usedAt ?? null,
  revokedAt: d.revokedAt ?? null,
});
const fromRefreshToken = (t: RefreshTokenRecord): RefreshTokenDocument => ({
  _id: t.id,
  userId: t.userId,
  familyId: t.familyId,
  tokenHash: t.tokenHash,
  createdAt: t.createdAt,
  expiresAt: t.expiresAt,
  usedAt: t.usedAt,
  revokedAt: t.revokedAt,
});

const toApiKey = (d: ApiKeyDocument): ApiKeyRecord => ({
  id: d._id as ApiKeyId,
  userId: d.userId as UserId,
  name: d.name,
  prefix: d.prefix,
  keyHash: d.keyHash,
  createdAt: d.createdAt,
  lastUsedAt: d.lastUsedAt ?? null,
  revokedAt: d.revokedAt ?? null,
});
const fromApiKey = (k: ApiKeyRecord): ApiKeyDocument => ({
  _id: k.id,
  userId: k.userId,
  name: k.name,
  prefix: k.prefix,
  keyHash: k.keyHash,
  createdAt: k.createdAt,
  lastUsedAt: k.lastUsedAt,
  revokedAt: k.revokedAt,
});

const toImage = (d: ImageDocument): ImageRecord => ({
  id: d._id as ImageId,
  ownerId: d.ownerId as UserId,
  filename: d.filename,
  format: d.format,
  width: d.width,
  height: d.height,
  sizeBytes: d.sizeBytes,
  sha256: d.sha256,
  objectKey: d.objectKey,
  createdAt: d.createdAt,
});
const fromImage = (i: ImageRecord): ImageDocument => ({
  _id: i.id,
  ownerId: i.ownerId,
  filename: i.filename,
  format: i.format,
  width: i.width,
  height: i.height,
  sizeBytes: i.sizeBytes,
  sha256: i.sha256,
  objectKey: i.objectKey,
  createdAt: i.createdAt,
});

const toPrediction = (d: PredictionDocument): PredictionRecord => ({
  sha256: d.sha256,
  modelName: d.modelName,
  modelVersion: d.modelVersion,
  label: d.label,
  confidence: d.confidence,
  scores: d.scores,
  createdAt: d.createdAt,
});
const fromPrediction = (p: PredictionRecord): PredictionDocument => ({
  sha256: p.sha256,
  modelName: p.modelName,
  modelVersion: p.modelVersion,
  label: p.label,
  confidence: p.confidence,
  scores: p.scores,
  createdAt: p.createdAt,
});

const toPredictionLog = (d: PredictionLogDocument): PredictionLogRecord => ({
  id: d._id,
  at: d.at,
  imageId: d.imageId as ImageId,
  userId: d.userId as UserId,
  apiKeyId: (d.apiKeyId ?? null) as ApiKeyId | null,
  clientIp: d.clientIp,
  userAgent: d.userAgent,
  imageFormat: d.imageFormat,
  imageSha256: d.imageSha256,
  label: d.label,
  confidence: d.confidence,
  modelName: d.modelName,
  modelVersion: d.modelVersion,
  cached: d.cached,
  latencyMs: d.latencyMs,
});
const fromPredictionLog = (l: PredictionLogRecord): PredictionLogDocument => ({
  _id: l.id,
  at: l.at,
  imageId: l.imageId,
  userId: l.userId,
  apiKeyId: l.apiKeyId,
  clientIp: l.clientIp,
  userAgent: l.userAgent,
  imageFormat: l.imageFormat,
  imageSha256: l.imageSha256,
  label: l.label,
  confidence: l.confidence,
  modelName: l.modelName,
  modelVersion: l.modelVersion,
  cached: l.cached,
  latencyMs: l.latencyMs,
});

const isInvalidDate = (date: Date | undefined): boolean => date !== undefined && Number.isNaN(date.getTime());

interface MongoErrorShape {
  code?: unknown;
  keyPattern?: Record<string, unknown>;
}
/** Only a clash on the email index is a taken email; an `_id` clash is a bug, as it is in SQLite. */
const isDuplicateEmail = (err: unknown): boolean => {
  if (typeof err !== 'object' || err === null) return false;
  const { code, keyPattern } = err as MongoErrorShape;
  return code === 11000 && (keyPattern === undefined || 'email' in keyPattern);
};

class MongoUsers implements UserRepository {
  constructor(private readonly model: Model<UserDocument>) {}

  async create(u: UserRecord): Promise<void> {
    try {
      await this.model.create(fromUser(u));
    } catch (err) {
      if (isDuplicateEmail(err)) throw new DuplicateKeyError('email already registered');
      throw err;
    }
  }

  async findById(id: UserId): Promise<UserRecord | null> {
    const doc = await this.model.findOne({ _id: String(id) }).lean<UserDocument>();
    return doc ? toUser(doc) : null;
  }

  async findByEmail(email: Email): Promise<UserRecord | null> {
    const doc = await this.model.findOne({ email: String(email) }).lean<UserDocument>();
    return doc ? toUser(doc) : null;
  }

  async list({ limit, cursor }: PageRequest): Promise<Page<UserRecord>> {
    const after = decodeCursor(cursor);
    const take = limit + 1;
    // SQLite compares against a NaN time as NULL (no rows) and reads LIMIT 0 as "no rows"; Mongo
    // would reject the date and read limit 0 as "no limit", so both cases short-circuit here.
    if ((after && Number.isNaN(after.createdAt.getTime())) || take === 0) return { items: [], nextCursor: null };

    const filter: FilterQuery<UserDocument> = after
      ? {
          $or: [
            { createdAt: { $gt: after.createdAt } },
            { createdAt: after.createdAt, _id: { $gt: String(after.id) } },
          ],
        }
      : {};
    const query = this.model.find(filter).sort({ createdAt: 1, _id: 1 });
    // A negative SQLite LIMIT means "all rows"; a negative Mongo limit means "one batch".
    if (take > 0) query.limit(take);
    const docs = await query.lean<UserDocument[]>();

    const items = docs.slice(0, limit).map(toUser);
    const last = items.at(-1);
    return { items, nextCursor: docs.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }

  async update(id: UserId, patch: { role?: Role; disabled?: boolean }, at: Date): Promise<UserRecord | null> {
    const set: Partial<Pick<UserDocument, 'role' | 'disabled' | 'updatedAt'>> = { updatedAt: at };
    if (patch.role !== undefined) set.role = patch.role;
    if (patch.disabled !== undefined) set.disabled = patch.disabled;
    const doc = await this.model
      .findOneAndUpdate(
        { _id: String(id) },
        { $set: set },
        // Validators stand in for SQLite's CHECK on role.
        { returnDocument: 'after', runValidators: true },
      )
      .lean<UserDocument>();
    return doc ? toUser(doc) : null;
  }
}

class MongoRefreshTokens implements RefreshTokenRepository {
  constructor(private readonly model: Model<RefreshTokenDocument>) {}

  async create(t: RefreshTokenRecord): Promise<void> {
    await this.model.create(fromRefreshToken(t));
  }

  async findByHash(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const doc = await this.model.findOne({ tokenHash: String(tokenHash) }).lean<RefreshTokenDocument>();
    return doc ? toRefreshToken(doc) : null;
  }

  async markUsed(id: RefreshTokenId, at: Date): Promise<boolean> {
    // One conditional update: of two concurrent rotations, only one can match the null usedAt.
    const result = await this.model.updateOne(
      { _id: String(id), usedAt: null, revokedAt: null },
      { $set: { usedAt: at } },
    );
    return result.modifiedCount === 1;
  }

  async revokeFamily(familyId: TokenFamilyId, at: Date): Promise<void> {
    await this.model.updateMany({ familyId: String(familyId), revokedAt: null }, { $set: { revokedAt: at } });
  }

  async revokeAllForUser(userId: UserId, at: Date): Promise<void> {
    await this.model.updateMany({ userId: String(userId), revokedAt: null }, { $set: { revokedAt: at } });
  }
}

class MongoApiKeys implements ApiKeyRepository {
  constructor(private readonly model: Model<ApiKeyDocument>) {}

  async create(k: ApiKeyRecord): Promise<void> {
    await this.model.create(fromApiKey(k));
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    const doc = await this.model.findOne({ keyHash: String(keyHash) }).lean<ApiKeyDocument>();
    return doc ? toApiKey(doc) : null;
  }

  async listActiveByUser(userId: UserId): Promise<ApiKeyRecord[]> {
    const docs = await this.model
      .find({ userId: String(userId), revokedAt: null })
      .sort({ createdAt: -1, _id: 1 })
      .lean<ApiKeyDocument[]>();
    return docs.map(toApiKey);
  }

  async revoke(id: ApiKeyId, userId: UserId, at: Date): Promise<boolean> {
    const result = await this.model.updateOne(
      { _id: String(id), userId: String(userId), revokedAt: null },
      { $set: { revokedAt: at } },
    );
    return result.modifiedCount === 1;
  }

  async touch(id: ApiKeyId, at: Date): Promise<void> {
    await this.model.updateOne({ _id: String(id) }, { $set: { lastUsedAt: at } });
  }
}

class MongoImages implements ImageRepository {
  constructor(private readonly model: Model<ImageDocument>) {}

  async create(i: ImageRecord): Promise<void> {
    await this.model.create(fromImage(i));
  }

  async findOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null> {
    const doc = await this.model.findOne({ _id: String(id), ownerId: String(ownerId) }).lean<ImageDocument>();
    return doc ? toImage(doc) : null;
  }

  async listOwned(ownerId: UserId, { limit, cursor }: PageRequest): Promise<Page<ImageRecord>> {
    const before = decodeCursor(cursor);
    const take = limit + 1;
    // Same short-circuits as MongoUsers.list: SQLite finds no rows for a NaN time or LIMIT 0, where
    // Mongo would reject the date or read limit 0 as "no limit".
    if ((before && Number.isNaN(before.createdAt.getTime())) || take === 0) return { items: [], nextCursor: null };

    const filter: FilterQuery<ImageDocument> = before
      ? {
          ownerId: String(ownerId),
          $or: [
            { createdAt: { $lt: before.createdAt } },
            { createdAt: before.createdAt, _id: { $lt: String(before.id) } },
          ],
        }
      : { ownerId: String(ownerId) };
    const query = this.model.find(filter).sort({ createdAt: -1, _id: -1 });
    // A negative SQLite LIMIT means "all rows"; a negative Mongo limit means "one batch".
    if (take > 0) query.limit(take);
    const docs = await query.lean<ImageDocument[]>();

    const items = docs.slice(0, limit).map(toImage);
    const last = items.at(-1);
    return { items, nextCursor: docs.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }

  async deleteOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null> {
    const doc = await this.model.findOneAndDelete({ _id: String(id), ownerId: String(ownerId) }).lean<ImageDocument>();
    return doc ? toImage(doc) : null;
  }

  async countBySha256(sha256: string): Promise<number> {
    return this.model.countDocuments({ sha256: String(sha256) });
  }
}

class MongoPredictions implements PredictionRepository {
  constructor(private readonly model: Model<PredictionDocument>) {}

  async find(sha256: string, modelName: string, modelVersion: string): Promise<PredictionRecord | null> {
    const doc = await this.model
      .findOne({ sha256: String(sha256), modelName: String(modelName), modelVersion: String(modelVersion) })
      .lean<PredictionDocument>();
    return doc ? toPrediction(doc) : null;
  }

  async save(p: PredictionRecord): Promise<void> {
    const { sha256, modelName, modelVersion, ...rest } = fromPrediction(p);
    // Like SQLite's ON CONFLICT DO NOTHING: the unique key makes concurrent upserts settle on one
    // record, and $setOnInsert leaves a record that is already there untouched.
    await this.model.updateOne(
      { sha256: String(sha256), modelName: String(modelName), modelVersion: String(modelVersion) },
      { $setOnInsert: rest },
      // Validators stand in for SQLite's NOT NULL columns; updates skip them by default.
      { upsert: true, runValidators: true },
    );
  }

  async deleteBySha256(sha256: string): Promise<number> {
    const result = await this.model.deleteMany({ sha256: String(sha256) });
    return result.deletedCount;
  }
}

class MongoPredictionLogs implements PredictionLogRepository {
  constructor(private readonly model: Model<PredictionLogDocument>) {}

  async append(l: PredictionLogRecord): Promise<void> {
    await this.model.create(fromPredictionLog(l));
  }

  async query({ from, to, label, limit, cursor }: PredictionLogQuery): Promise<Page<PredictionLogRecord>> {
    const before = decodeCursor(cursor);
    const take = limit + 1;
    // Same short-circuits as MongoUsers.list: SQLite finds no rows for a NaN time or LIMIT 0, where
    // Mongo would reject the date or read limit 0 as "no limit".
    if (isInvalidDate(from) || isInvalidDate(to) || isInvalidDate(before?.createdAt) || take === 0) {
      return { items: [], nextCursor: null };
    }

    const filter: FilterQuery<PredictionLogDocument> = { at: { $gte: from, $lt: to } };
    if (label !== undefined) filter.label = String(label);
    if (before) {
      filter.$or = [{ at: { $lt: before.createdAt } }, { at: before.createdAt, _id: { $lt: String(before.id) } }];
    }
    const query = this.model.find(filter).sort({ at: -1, _id: -1 });
    // A negative SQLite LIMIT means "all rows"; a negative Mongo limit means "one batch".
    if (take > 0) query.limit(take);
    const docs = await query.lean<PredictionLogDocument[]>();

    const items = docs.slice(0, limit).map(toPredictionLog);
    const last = items.at(-1);
    return { items, nextCursor: docs.length > limit && last ? encodeCursor(last.at, last.id) : null };
  }

  async deleteOlderThan(date: Date): Promise<number> {
    // SQLite compares against a NaN time as NULL and deletes nothing; Mongo would reject the date.
    if (isInvalidDate(date)) return 0;
    const result = await this.model.deleteMany({ at: { $lt: date } });
    return result.deletedCount;
  }
}

/** MongoDB on its own connection, so it never shares state with the global mongoose default. */
export async function createMongoMetadataStore(url: string): Promise<MetadataStore> {
  const conn = createConnection(url, { serverSelectionTimeoutMS: 5000 });
  try {
    await conn.asPromise();
    const models = await createMetadataModels(conn);
    return {
      users: new MongoUsers(models.users),
      refreshTokens: new MongoRefreshTokens(models.refreshTokens),
      apiKeys: new MongoApiKeys(models.apiKeys),
      images: new MongoImages(models.images),
      predictions: new MongoPredictions(models.predictions),
      predictionLogs: new MongoPredictionLogs(models.predictionLogs),
      async ping() {
        const db = conn.db;
        if (!db) throw new Error('MongoDB connection is not open');
        await db.admin().ping();
      },
      async close() {
        await conn.close();
      },
    };
  } catch (err) {
    // A half-open client would keep its monitors running and hold the process open.
    await conn.close().catch(() => undefined);
    throw err;
  }
}
