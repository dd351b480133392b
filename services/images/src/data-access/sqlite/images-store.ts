import {
  decodeCursor,
  openSqliteStore,
  toPage,
  type ImageFormat,
  type ImageId,
  type Page,
  type PageRequest,
  type StatementSource,
  type UserId,
} from '@capcheck/shared';
import type { CreatedImage, DeletedImage, ImageRecord, ImageRepository, ImagesStore } from '../../domain/ports';
import { imagesSchema } from './migrations';

interface ImageRow {
  id: string;
  owner_id: string;
  filename: string;
  format: ImageFormat;
  width: number;
  height: number;
  size_bytes: number;
  sha256: string;
  object_key: string;
  created_at: number;
}

const toImage = (r: ImageRow): ImageRecord => ({
  id: r.id as ImageId,
  ownerId: r.owner_id as UserId,
  filename: r.filename,
  format: r.format,
  width: r.width,
  height: r.height,
  sizeBytes: r.size_bytes,
  sha256: r.sha256,
  objectKey: r.object_key,
  createdAt: new Date(r.created_at),
});

class SqliteImages implements ImageRepository {
  constructor(private readonly db: StatementSource) {}

  /** The record and one more reference to its bytes, in one transaction. */
  async create(i: ImageRecord): Promise<CreatedImage> {
    return this.db
      .transaction(() => {
        this.db
          .prepare(
            `INSERT INTO images (id, owner_id, filename, format, width, height, size_bytes, sha256, object_key, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            i.id,
            i.ownerId,
            i.filename,
            i.format,
            i.width,
            i.height,
            i.sizeBytes,
            i.sha256,
            i.objectKey,
            i.createdAt.getTime(),
          );
        const { refs } = this.db
          .prepare(
            `INSERT INTO image_blob_refs (sha256, refs) VALUES (?, 1)
           ON CONFLICT (sha256) DO UPDATE SET refs = refs + 1 RETURNING refs`,
          )
          .get(i.sha256) as { refs: number };
        return { firstReference: refs === 1 };
      })
      .immediate();
  }

  async findOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null> {
    const row = this.db.prepare('SELECT * FROM images WHERE id = ? AND owner_id = ?').get(id, ownerId) as
      ImageRow | undefined;
    return row ? toImage(row) : null;
  }

  async listOwned(ownerId: UserId, { limit, cursor }: PageRequest): Promise<Page<ImageRecord>> {
    const before = decodeCursor(cursor);
    const rows = (
      before
        ? this.db
            .prepare(
              `SELECT * FROM images WHERE owner_id = ? AND (created_at, id) < (?, ?)
               ORDER BY created_at DESC, id DESC LIMIT ?`,
            )
            .all(ownerId, before.createdAt.getTime(), before.id, limit + 1)
        : this.db
            .prepare('SELECT * FROM images WHERE owner_id = ? ORDER BY created_at DESC, id DESC LIMIT ?')
            .all(ownerId, limit + 1)
    ) as ImageRow[];
    return toPage(rows.map(toImage), limit, (i) => [i.createdAt, i.id]);
  }

  /** The record and one reference to its bytes, in one transaction; the count's row goes with its last reference. */
  async deleteOwned(id: ImageId, ownerId: UserId): Promise<DeletedImage | null> {
    return this.db
      .transaction(() => {
        const row = this.db.prepare('DELETE FROM images WHERE id = ? AND owner_id = ? RETURNING *').get(id, ownerId) as
          ImageRow | undefined;
        if (!row) return null;
        const counted = this.db
          .prepare('UPDATE image_blob_refs SET refs = MAX(refs - 1, 0) WHERE sha256 = ? RETURNING refs')
          .get(row.sha256) as { refs: number } | undefined;
        // No row would mean a count that was never built: the records themselves then say whether any is left.
        const left = counted ? counted.refs : this.countRecords(row.sha256);
        if (left > 0) return { record: toImage(row), lastReference: false };
        this.db.prepare('DELETE FROM image_blob_refs WHERE sha256 = ? AND refs <= 0').run(row.sha256);
        // A count left too low (records written by an older version, without counting) never removes a blob in use.
        return { record: toImage(row), lastReference: this.countRecords(row.sha256) === 0 };
      })
      .immediate();
  }

  async referencesTo(sha256: string): Promise<number> {
    const row = this.db.prepare('SELECT refs FROM image_blob_refs WHERE sha256 = ?').get(sha256) as
      { refs: number } | undefined;
    return row?.refs ?? 0;
  }

  async countBySha256(sha256: string): Promise<number> {
    return this.countRecords(sha256);
  }

  /** In pages by the sha256 index, so no statement stays open while the caller awaits. */
  async *referencedSha256s(): AsyncIterable<string> {
    let after = '';
    for (;;) {
      const rows = this.db
        .prepare('SELECT DISTINCT sha256 FROM images WHERE sha256 > ? ORDER BY sha256 LIMIT 500')
        .all(after) as { sha256: string }[];
      for (const { sha256 } of rows) yield sha256;
      if (rows.length < 500) return;
      after = rows[rows.length - 1]!.sha256;
    }
  }

  private countRecords(sha256: string): number {
    const row = this.db.prepare('SELECT COUNT(*) AS n FROM images WHERE sha256 = ?').get(sha256) as { n: number };
    return row.n;
  }
}

/** The images table in a SQLite file (which other services' tables may share). */
export function createSqliteImagesStore(path: string): ImagesStore {
  return openSqliteStore(path, imagesSchema, (db) => ({ images: new SqliteImages(db) }));
}
