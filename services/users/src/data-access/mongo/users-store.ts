import type { FilterQuery, Model } from 'mongoose';
import {
  decodeCursor,
  DuplicateKeyError,
  fromDocument,
  limitForPage,
  openMongoStore,
  pageCanMatch,
  toDocument,
  toPage,
  type Page,
  type PageRequest,
  type ApiKeyId,
  type Email,
  type RefreshTokenId,
  type Role,
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
import { createUsersModels, type ApiKeyDocument, type RefreshTokenDocument, type UserDocument } from './schemas';

const toUser = (d: UserDocument) => fromDocument<UserRecord>(d);
const toRefreshToken = (d: RefreshTokenDocument) => fromDocument<RefreshTokenRecord>(d);
const toApiKey = (d: ApiKeyDocument) => fromDocument<ApiKeyRecord>(d);

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
      await this.model.create(toDocument(u));
    } catch (err) {
      if (isDuplicateEmail(err)) throw new DuplicateKeyError('email already registered', { cause: err });
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
    if (!pageCanMatch(limit, after?.createdAt)) return { items: [], nextCursor: null };
    const filter: FilterQuery<UserDocument> = after
      ? {
          $or: [
            { createdAt: { $gt: after.createdAt } },
            { createdAt: after.createdAt, _id: { $gt: String(after.id) } },
          ],
        }
      : {};
    const docs = await limitForPage(this.model.find(filter).sort({ createdAt: 1, _id: 1 }), limit).lean<
      UserDocument[]
    >();
    return toPage(docs.map(toUser), limit, (u) => [u.createdAt, u.id]);
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
    await this.model.create(toDocument(t));
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
    await this.model.create(toDocument(k));
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

/** The users service's collections, in the database its MONGO_URL names. */
export function createMongoUsersStore(url: string): Promise<UsersStore> {
  return openMongoStore(url, async (conn) => {
    const models = await createUsersModels(conn);
    return {
      users: new MongoUsers(models.users),
      refreshTokens: new MongoRefreshTokens(models.refreshTokens),
      apiKeys: new MongoApiKeys(models.apiKeys),
    };
  });
}
