import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { blobKeyForSha256, createFilesystemBlobStore } from '@capcheck/shared';
import { bcryptHasher, usersSchema } from '@capcheck/users';
import { imagesSchema } from '@capcheck/images';
import { inferenceSchema } from '@capcheck/inference';
import { password } from './services';

/**
 * A DATA_DIR as the code before per-service schemas left it: one `capcheck.sqlite` holding every
 * service's tables, its schema version in `user_version` (3), and the blobs beside it. That code's
 * migration list was the users, images and inference steps 1, in that order: shipped steps are
 * never edited, so each service's first step is still that text.
 */
const legacySteps = [usersSchema, imagesSchema, inferenceSchema].map((schema) => schema.migrations[0]!);

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
