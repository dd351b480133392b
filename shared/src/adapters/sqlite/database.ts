import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

/** What the repositories need of a database: a compiled statement for a SQL text, and transactions. */
export interface StatementSource {
  prepare(sql: string): Database.Statement;
  transaction: SqliteDatabase['transaction'];
}

/**
 * Each SQL text compiled once and reused: compiling cost more than running the small statements a
 * request makes (12 % of a cached prediction's CPU time in a profile). The texts are constants or a
 * few combinations of optional filters, so the cache stays small.
 */
export function cachedStatements(db: SqliteDatabase): StatementSource {
  const statements = new Map<string, Database.Statement>();
  return {
    transaction: (fn) => db.transaction(fn),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (!statement) {
        statement = db.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

/**
 * Schema versions, applied in order inside one transaction each. Append; never edit a shipped step.
 * Dates are integer milliseconds since the epoch.
 */
const migrations: string[] = [
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
  `CREATE TABLE images (
     id TEXT PRIMARY KEY,
     owner_id TEXT NOT NULL,
     filename TEXT NOT NULL,
     format TEXT NOT NULL CHECK (format IN ('jpeg','png','webp')),
     width INTEGER NOT NULL,
     height INTEGER NOT NULL,
     size_bytes INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     object_key TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX images_owner ON images (owner_id, created_at DESC, id DESC);
   CREATE INDEX images_sha256 ON images (sha256);`,
  `CREATE TABLE predictions (
     sha256 TEXT NOT NULL,
     model_name TEXT NOT NULL,
     model_version TEXT NOT NULL,
     label TEXT NOT NULL,
     confidence REAL NOT NULL,
     scores TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (sha256, model_name, model_version)
   );
   CREATE TABLE prediction_logs (
     id TEXT PRIMARY KEY,
     at INTEGER NOT NULL,
     image_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     api_key_id TEXT,
     client_ip TEXT NOT NULL,
     user_agent TEXT NOT NULL,
     image_format TEXT NOT NULL,
     image_sha256 TEXT NOT NULL,
     label TEXT NOT NULL,
     confidence REAL NOT NULL,
     model_name TEXT NOT NULL,
     model_version TEXT NOT NULL,
     cached INTEGER NOT NULL,
     latency_ms REAL NOT NULL
   );
   CREATE INDEX prediction_logs_at ON prediction_logs (at DESC, id DESC);
   CREATE INDEX prediction_logs_label_at ON prediction_logs (label, at DESC, id DESC);`,
];

/** Opens (creating if needed) the SQLite file and brings its schema up to date. `:memory:` works too. */
export function openSqlite(path: string): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const current = db.pragma('user_version', { simple: true }) as number;
  migrations.slice(current).forEach((sql, index) => {
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${current + index + 1}`);
    })();
  });
  return db;
}
