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
import type { ImageRecord, ImageRepository, ImagesStore } from '../../domain/ports';
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

  async create(i: ImageRecord): Promise<void> {
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

  async deleteOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null> {
    const row = this.db.prepare('DELETE FROM images WHERE id = ? AND owner_id = ? RETURNING *').get(id, ownerId) as
      ImageRow | undefined;
    return row ? toImage(row) : null;
  }

  async countBySha256(sha256: string): Promise<number> {
    const row = this.db.prepare('SELECT COUNT(*) AS n FROM images WHERE sha256 = ?').get(sha256) as { n: number };
    return row.n;
  }
}

/** The images table in a SQLite file (which other services' tables may share). */
export function createSqliteImagesStore(path: string): ImagesStore {
  return openSqliteStore(path, imagesSchema, (db) => ({ images: new SqliteImages(db) }));
}
