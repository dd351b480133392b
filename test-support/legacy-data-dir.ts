import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { blobKeyForSha256, createFilesystemBlobStore } from '@capcheck/shared';
import { bcryptHasher } from '@capcheck/users';
import { password } from './services';

/**
 * A DATA_DIR as the code before per-service schemas left it: one `capcheck.sqlite` holding every
 * service's tables, its schema version in `user_version` (3), and the blobs beside it. The steps are
 * that code's migration list, verbatim.
 */
const legacySteps: string[] = [
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

export interface LegacyRecords {
  admin: { id: string; email: string };
  apiKey: { id: string; key: string };
  image: { id: string; sha256: string; bytes: Buffer };
  prediction: { label: string; confidence: number; modelVersion: string };
  logId: string;
}

/** Writes that layout into `dataDir`, with one record in every table and the image's blob. */
export async function writeLegacyDataDir(
  dataDir: string,
  image: Buffer,
  prediction: { label: string; modelVersion: string },
): Promise<LegacyRecords> {
  const db = new Database(join(dataDir, 'capcheck.sqlite'));
  db.pragma('journal_mode = WAL');
  legacySteps.forEach((sql, index) => {
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${index + 1}`);
    })();
  });
  const now = Date.now();
  const hash = (s: string) => createHash('sha256').update(s).digest('hex');
  const admin = { id: randomUUID(), email: `legacy-${randomUUID()}@example.test` };
  db.prepare('INSERT INTO users VALUES (?, ?, ?, ?, 0, ?, ?)').run(
    admin.id,
    admin.email,
    await bcryptHasher(4).hash(password),
    'admin',
    now,
    now,
  );
  db.prepare('INSERT INTO refresh_tokens VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)').run(
    randomUUID(),
    admin.id,
    randomUUID(),
    hash(randomUUID()),
    now,
    now + 3_600_000,
  );
  const apiKey = { id: randomUUID(), key: `cck_${randomUUID()}` };
  db.prepare('INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)').run(
    apiKey.id,
    admin.id,
    'legacy line',
    apiKey.key.slice(0, 12),
    hash(apiKey.key),
    now,
  );
  const sha256 = createHash('sha256').update(image).digest('hex');
  const imageId = randomUUID();
  db.prepare('INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
    imageId,
    admin.id,
    'legacy.jpg',
    'jpeg',
    64,
    48,
    image.length,
    sha256,
    blobKeyForSha256(sha256),
    now,
  );
  const stored = { ...prediction, confidence: 0.987654 };
  db.prepare('INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?)').run(
    sha256,
    'bottle-state',
    stored.modelVersion,
    stored.label,
    stored.confidence,
    JSON.stringify({ [stored.label]: stored.confidence, other: 1 - stored.confidence }),
    now,
  );
  const logId = randomUUID();
  db.prepare('INSERT INTO prediction_logs VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)').run(
    logId,
    now - 1000,
    imageId,
    admin.id,
    '127.0.0.1',
    'legacy-agent',
    'jpeg',
    sha256,
    stored.label,
    stored.confidence,
    'bottle-state',
    stored.modelVersion,
    12.5,
  );
  db.close();
  const blobs = await createFilesystemBlobStore(join(dataDir, 'blobs'));
  await blobs.put(blobKeyForSha256(sha256), image, 'image/jpeg');
  await blobs.close();
  return { admin, apiKey, image: { id: imageId, sha256, bytes: image }, prediction: stored, logId };
}
