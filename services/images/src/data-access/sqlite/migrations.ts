import type { SqliteSchema } from '@capcheck/shared';

/** The images service's tables. Append a step; never edit a shipped one. Dates are epoch milliseconds. */
export const imagesSchema: SqliteSchema = {
  service: 'images',
  // Step 1 was step 2 of the single schema every service used to share.
  legacyUserVersion: 2,
  migrations: [
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
    // Per sha256, how many records point at its bytes, kept in the same transaction as each record
    // (the blob goes only when the count reaches 0). Built here from the records already there.
    `CREATE TABLE image_blob_refs (
       sha256 TEXT PRIMARY KEY,
       refs INTEGER NOT NULL CHECK (refs >= 0)
     ) WITHOUT ROWID;
     INSERT INTO image_blob_refs (sha256, refs) SELECT sha256, COUNT(*) FROM images GROUP BY sha256;`,
  ],
};
