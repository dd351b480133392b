import type { SqliteSchema } from '@capcheck/shared';

/**
 * The users service's tables. Append a step; never edit a shipped one. Dates are integer
 * milliseconds since the epoch.
 */
export const usersSchema: SqliteSchema = {
  service: 'users',
  // Step 1 was step 1 of the single schema every service used to share.
  legacyUserVersion: 1,
  migrations: [
    `CREATE TABLE users (
       id TEXT PRIMARY KEY,
       email TEXT NOT NULL UNIQUE,
       password_hash TEXT NOT NULL,
       role TEXT NOT NULL CHECK (role IN ('user','admin')),
       disabled INTEGER NOT NULL DEFAULT 0,
       created_at INTEGER NOT NULL,
       updated_at INTEGER NOT NULL
     );
     CREATE INDEX users_created ON users (created_at, id);
     CREATE TABLE refresh_tokens (
       id TEXT PRIMARY KEY,
       user_id TEXT NOT NULL,
       family_id TEXT NOT NULL,
       token_hash TEXT NOT NULL UNIQUE,
       created_at INTEGER NOT NULL,
       expires_at INTEGER NOT NULL,
       used_at INTEGER,
       revoked_at INTEGER
     );
     CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
     CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
     CREATE TABLE api_keys (
       id TEXT PRIMARY KEY,
       user_id TEXT NOT NULL,
       name TEXT NOT NULL,
       prefix TEXT NOT NULL,
       key_hash TEXT NOT NULL UNIQUE,
       created_at INTEGER NOT NULL,
       last_used_at INTEGER,
       revoked_at INTEGER
     );
     CREATE INDEX api_keys_user ON api_keys (user_id, created_at);`,
  ],
};
