import type { ApiKeyId, Email, ImageId, RefreshTokenId, Role, TokenFamilyId, UserId } from '../ids';
import type { ImageFormat } from './events';

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Null on the last page. */
  nextCursor: string | null;
}
export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

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

export interface ImageRecord {
  id: ImageId;
  ownerId: UserId;
  /** The client's file name, sanitised; metadata only, never used as a path or key. */
  filename: string;
  format: ImageFormat;
  /** Display dimensions, after EXIF orientation. */
  width: number;
  height: number;
  sizeBytes: number;
  sha256: string;
  /** Where the bytes are in the blob store (content-addressed: shared by identical uploads). */
  objectKey: string;
  createdAt: Date;
}

export interface ImageRepository {
  create(image: ImageRecord): Promise<void>;
  /** Only the owner's image: another user's id is the same as an unknown one. */
  findOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null>;
  /** The owner's images, newest first. */
  listOwned(ownerId: UserId, page: PageRequest): Promise<Page<ImageRecord>>;
  /** Deletes the owner's image and returns it, or null if there was none. */
  deleteOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null>;
  /** How many records (any owner) point at these bytes: 0 means the blob may go. */
  countBySha256(sha256: string): Promise<number>;
}

/** A model's verdict on some bytes; shared by every image with the same sha256. */
export interface PredictionRecord {
  sha256: string;
  modelName: string;
  modelVersion: string;
  label: string;
  confidence: number;
  /** Probability per label, summing to 1. */
  scores: Record<string, number>;
  createdAt: Date;
}

export interface PredictionRepository {
  find(sha256: string, modelName: string, modelVersion: string): Promise<PredictionRecord | null>;
  /** Inserts, or leaves an existing record for the same key as it is (the verdict is deterministic). */
  save(prediction: PredictionRecord): Promise<void>;
  /** Drops every model's verdicts on these bytes. */
  deleteBySha256(sha256: string): Promise<number>;
}

/** One record per `GET /predict/:id` request, for audit and dashboards. */
export interface PredictionLogRecord {
  id: string;
  at: Date;
  imageId: ImageId;
  userId: UserId;
  apiKeyId: ApiKeyId | null;
  clientIp: string;
  userAgent: string;
  imageFormat: ImageFormat;
  imageSha256: string;
  label: string;
  confidence: number;
  modelName: string;
  modelVersion: string;
  cached: boolean;
  latencyMs: number;
}

export interface PredictionLogQuery extends PageRequest {
  from: Date;
  to: Date;
  label?: string | undefined;
}

export interface PredictionLogRepository {
  append(log: PredictionLogRecord): Promise<void>;
  /** Logs with from <= at < to (and the label, if given), newest first. */
  query(query: PredictionLogQuery): Promise<Page<PredictionLogRecord>>;
  /** Retention: removes logs older than the date; returns how many. */
  deleteOlderThan(date: Date): Promise<number>;
}

/** The metadata store as a whole: every repository plus the store's own lifecycle. */
export interface MetadataStore {
  readonly users: UserRepository;
  readonly refreshTokens: RefreshTokenRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly images: ImageRepository;
  readonly predictions: PredictionRepository;
  readonly predictionLogs: PredictionLogRepository;
  /** Resolves when the store answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Cursor over (createdAt, id): stable under inserts, opaque to clients. */
export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.getTime(), id])).toString('base64url');
}
export function decodeCursor(cursor: string | undefined): { createdAt: Date; id: string } | null {
  if (!cursor) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string') {
      return { createdAt: new Date(value[0]), id: value[1] };
    }
  } catch {
    // fall through: an unreadable cursor starts from the beginning
  }
  return null;
}
