import { Schema, type Connection, type Model } from 'mongoose';
import { roles, type Role } from '../../ids';
import type { ImageFormat } from '../../ports/events';

/** How a user is stored: the domain id is the `_id`, dates are BSON dates. */
export interface UserDocument {
  _id: string;
  email: string;
  passwordHash: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface RefreshTokenDocument {
  _id: string;
  userId: string;
  familyId: string;
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

export interface ApiKeyDocument {
  _id: string;
  userId: string;
  name: string;
  prefix: string;
  keyHash: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface ImageDocument {
  _id: string;
  ownerId: string;
  filename: string;
  format: ImageFormat;
  width: number;
  height: number;
  sizeBytes: number;
  sha256: string;
  objectKey: string;
  createdAt: Date;
}

/**
 * Keyed by a unique (sha256, modelName, modelVersion) index rather than a joined `_id` string, which
 * could make two different keys collide when a model name or version contains the separator.
 */
export interface PredictionDocument {
  sha256: string;
  modelName: string;
  modelVersion: string;
  label: string;
  confidence: number;
  scores: Record<string, number>;
  createdAt: Date;
}

export interface PredictionLogDocument {
  _id: string;
  at: Date;
  imageId: string;
  userId: string;
  apiKeyId: string | null;
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

export interface MetadataModels {
  users: Model<UserDocument>;
  refreshTokens: Model<RefreshTokenDocument>;
  apiKeys: Model<ApiKeyDocument>;
  images: Model<ImageDocument>;
  predictions: Model<PredictionDocument>;
  predictionLogs: Model<PredictionLogDocument>;
}

/**
 * Like SQLite's `TEXT NOT NULL`: must be present but may be empty. Mongoose's `required` would also
 * refuse '', so a missing value defaults to null and the validator refuses null instead.
 */
const requiredText = {
  type: String,
  default: null,
  validate: { validator: (value: unknown) => value !== null, message: 'Path `{PATH}` is required.' },
};
const nullableText = { type: String, default: null };
const requiredDate = { type: Date, required: true };
const nullableDate = { type: Date, default: null };
const requiredNumber = { type: Number, required: true };
// The same set as SQLite's CHECK on images.format.
const imageFormats: readonly ImageFormat[] = ['jpeg', 'png', 'webp'];

const schemaOptions = (collection: string) =>
  ({
    collection,
    // Unknown fields are dropped from writes and from filters, so a stray key can never widen a query.
    strict: true,
    strictQuery: true,
    versionKey: false,
    id: false,
    // Indexes are built once, awaited, at start-up (see createMetadataModels) rather than in the background.
    autoIndex: false,
    autoCreate: false,
  }) as const;

const userSchema = new Schema<UserDocument>(
  {
    _id: requiredText,
    email: requiredText,
    passwordHash: requiredText,
    role: { type: String, enum: roles, required: true },
    disabled: { type: Boolean, required: true },
    createdAt: requiredDate,
    updatedAt: requiredDate,
  },
  schemaOptions('users'),
);
userSchema.index({ email: 1 }, { unique: true });
userSchema.index({ createdAt: 1, _id: 1 });

const refreshTokenSchema = new Schema<RefreshTokenDocument>(
  {
    _id: requiredText,
    userId: requiredText,
    familyId: requiredText,
    tokenHash: requiredText,
    createdAt: requiredDate,
    expiresAt: requiredDate,
    usedAt: nullableDate,
    revokedAt: nullableDate,
  },
  schemaOptions('refresh_tokens'),
);
refreshTokenSchema.index({ tokenHash: 1 }, { unique: true });
refreshTokenSchema.index({ familyId: 1 });
refreshTokenSchema.index({ userId: 1 });

const apiKeySchema = new Schema<ApiKeyDocument>(
  {
    _id: requiredText,
    userId: requiredText,
    name: requiredText,
    prefix: requiredText,
    keyHash: requiredText,
    createdAt: requiredDate,
    lastUsedAt: nullableDate,
    revokedAt: nullableDate,
  },
  schemaOptions('api_keys'),
);
apiKeySchema.index({ keyHash: 1 }, { unique: true });
apiKeySchema.index({ userId: 1, createdAt: 1 });

const imageSchema = new Schema<ImageDocument>(
  {
    _id: requiredText,
    ownerId: requiredText,
    filename: requiredText,
    format: { type: String, enum: imageFormats, required: true },
    width: requiredNumber,
    height: requiredNumber,
    sizeBytes: requiredNumber,
    sha256: requiredText,
    objectKey: requiredText,
    createdAt: requiredDate,
  },
  schemaOptions('images'),
);
// Serves listOwned's filter, sort and cursor in one index, like SQLite's images_owner.
imageSchema.index({ ownerId: 1, createdAt: -1, _id: -1 });
imageSchema.index({ sha256: 1 });

const predictionSchema = new Schema<PredictionDocument>(
  {
    sha256: requiredText,
    modelName: requiredText,
    modelVersion: requiredText,
    label: requiredText,
    confidence: requiredNumber,
    // Labels are the model's own names, so the scores are an open object rather than fixed paths.
    scores: { type: Schema.Types.Mixed, required: true },
    createdAt: requiredDate,
  },
  schemaOptions('predictions'),
);
// The key, like SQLite's primary key; led by sha256, it also serves deleteBySha256.
predictionSchema.index({ sha256: 1, modelName: 1, modelVersion: 1 }, { unique: true });

const predictionLogSchema = new Schema<PredictionLogDocument>(
  {
    _id: requiredText,
    at: requiredDate,
    imageId: requiredText,
    userId: requiredText,
    apiKeyId: nullableText,
    clientIp: requiredText,
    userAgent: requiredText,
    imageFormat: { type: String, enum: imageFormats, required: true },
    imageSha256: requiredText,
    label: requiredText,
    confidence: requiredNumber,
    modelName: requiredText,
    modelVersion: requiredText,
    cached: { type: Boolean, required: true },
    latencyMs: requiredNumber,
  },
  schemaOptions('prediction_logs'),
);
// Serve query's sort and cursor, without and with the label filter, like SQLite's prediction_logs_at
// and prediction_logs_label_at.
predictionLogSchema.index({ at: -1, _id: -1 });
predictionLogSchema.index({ label: 1, at: -1, _id: -1 });

/**
 * Registers the models on this connection and waits for their indexes, so the unique email and
 * prediction key indexes exist before the first insert or upsert can race past them.
 */
export async function createMetadataModels(conn: Connection): Promise<MetadataModels> {
  const models: MetadataModels = {
    users: conn.model<UserDocument>('User', userSchema),
    refreshTokens: conn.model<RefreshTokenDocument>('RefreshToken', refreshTokenSchema),
    apiKeys: conn.model<ApiKeyDocument>('ApiKey', apiKeySchema),
    images: conn.model<ImageDocument>('Image', imageSchema),
    predictions: conn.model<PredictionDocument>('Prediction', predictionSchema),
    predictionLogs: conn.model<PredictionLogDocument>('PredictionLog', predictionLogSchema),
  };
  await Promise.all([
    models.users.createIndexes(),
    models.refreshTokens.createIndexes(),
    models.apiKeys.createIndexes(),
    models.images.createIndexes(),
    models.predictions.createIndexes(),
    models.predictionLogs.createIndexes(),
  ]);
  return models;
}
