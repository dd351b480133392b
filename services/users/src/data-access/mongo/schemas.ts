import { Schema, type Connection, type Model } from 'mongoose';
import { nullableDate, requiredDate, requiredText, roles, schemaOptions, type Stored } from '@capcheck/shared';
import type { ApiKeyRecord, RefreshTokenRecord, UserRecord } from '../../domain/ports';

export type UserDocument = Stored<UserRecord>;
export type RefreshTokenDocument = Stored<RefreshTokenRecord>;
export type ApiKeyDocument = Stored<ApiKeyRecord>;

export interface UsersModels {
  users: Model<UserDocument>;
  refreshTokens: Model<RefreshTokenDocument>;
  apiKeys: Model<ApiKeyDocument>;
}

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

/**
 * Registers the models on this connection and waits for their indexes, so the unique email index
 * exists before the first insert can race past it.
 */
export async function createUsersModels(conn: Connection): Promise<UsersModels> {
  const models: UsersModels = {
    users: conn.model<UserDocument>('User', userSchema),
    refreshTokens: conn.model<RefreshTokenDocument>('RefreshToken', refreshTokenSchema),
    apiKeys: conn.model<ApiKeyDocument>('ApiKey', apiKeySchema),
  };
  await Promise.all(Object.values(models).map((model: Model<unknown>) => model.createIndexes()));
  return models;
}
