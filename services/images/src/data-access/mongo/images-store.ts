import { Schema, type Connection, type FilterQuery, type Model } from 'mongoose';
import {
  decodeCursor,
  fromDocument,
  imageFormats,
  limitForPage,
  openMongoStore,
  pageCanMatch,
  requiredDate,
  requiredNumber,
  requiredText,
  schemaOptions,
  toDocument,
  toPage,
  type ImageId,
  type Page,
  type PageRequest,
  type Stored,
  type UserId,
} from '@capcheck/shared';
import type { CreatedImage, DeletedImage, ImageRecord, ImageRepository, ImagesStore } from '../../domain/ports';

type ImageDocument = Stored<ImageRecord>;

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

const toImage = (d: ImageDocument) => fromDocument<ImageRecord>(d);

/** Per sha256 (the `_id`), how many records point at its bytes. */
interface BlobRefsDocument {
  _id: string;
  count: number;
}
const blobRefsSchema = new Schema<BlobRefsDocument>(
  { _id: requiredText, count: requiredNumber },
  schemaOptions('image_blob_refs'),
);

/** Which one-off steps this database has had (the SQLite adapter's schema_migrations). */
interface MigrationDocument {
  _id: string;
  appliedAt: Date;
}
const migrationSchema = new Schema<MigrationDocument>(
  { _id: requiredText, appliedAt: requiredDate },
  schemaOptions('images_migrations'),
);

/**
 * Without a replica set MongoDB has no transaction across two documents, so the count and the record
 * are written in an order that keeps the count at or above the number of records at every instant:
 * the count goes up before the record is inserted and down after it is deleted, each step an atomic
 * single-document update. A crash between the two leaves the count one too high (the blob outlives
 * its records: an orphan the sweeper reports), never too low, so a count of 0 always means no record
 * needs the blob. Concurrent uploads and deletes of the same bytes serialise on the count's document.
 */
class MongoImages implements ImageRepository {
  constructor(
    private readonly model: Model<ImageDocument>,
    private readonly refs: Model<BlobRefsDocument>,
  ) {}

  async create(i: ImageRecord): Promise<CreatedImage> {
    const sha256 = String(i.sha256);
    const before = await this.refs
      .findOneAndUpdate({ _id: sha256 }, { $inc: { count: 1 } }, { upsert: true, returnDocument: 'before' })
      .lean<BlobRefsDocument | null>();
    try {
      await this.model.create(toDocument(i));
    } catch (err) {
      await this.release(sha256).catch(() => undefined); // too high is safe if even this fails
      throw err;
    }
    return { firstReference: !before || before.count <= 0 };
  }

  async findOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null> {
    const doc = await this.model.findOne({ _id: String(id), ownerId: String(ownerId) }).lean<ImageDocument>();
    return doc ? toImage(doc) : null;
  }

  async listOwned(ownerId: UserId, { limit, cursor }: PageRequest): Promise<Page<ImageRecord>> {
    const before = decodeCursor(cursor);
    if (!pageCanMatch(limit, before?.createdAt)) return { items: [], nextCursor: null };
    const filter: FilterQuery<ImageDocument> = before
      ? {
          ownerId: String(ownerId),
          $or: [
            { createdAt: { $lt: before.createdAt } },
            { createdAt: before.createdAt, _id: { $lt: String(before.id) } },
          ],
        }
      : { ownerId: String(ownerId) };
    const docs = await limitForPage(this.model.find(filter).sort({ createdAt: -1, _id: -1 }), limit).lean<
      ImageDocument[]
    >();
    return toPage(docs.map(toImage), limit, (i) => [i.createdAt, i.id]);
  }

  async deleteOwned(id: ImageId, ownerId: UserId): Promise<DeletedImage | null> {
    const doc = await this.model.findOneAndDelete({ _id: String(id), ownerId: String(ownerId) }).lean<ImageDocument>();
    if (!doc) return null;
    const left = await this.release(doc.sha256);
    // A count left too low (records written by an older version, without counting) never removes a blob in use.
    const lastReference = left <= 0 && (await this.countBySha256(doc.sha256)) === 0;
    return { record: toImage(doc), lastReference };
  }

  async referencesTo(sha256: string): Promise<number> {
    const doc = await this.refs.findById(String(sha256)).lean<BlobRefsDocument | null>();
    return doc?.count ?? 0;
  }

  async countBySha256(sha256: string): Promise<number> {
    return this.model.countDocuments({ sha256: String(sha256) });
  }

  async *referencedSha256s(): AsyncIterable<string> {
    const cursor = this.model.aggregate<{ _id: string }>([{ $group: { _id: '$sha256' } }]).cursor();
    for await (const { _id } of cursor) yield _id;
  }

  /** One reference fewer; the count's document goes with its last reference. Returns what is left. */
  private async release(sha256: string): Promise<number> {
    const after = await this.refs
      .findOneAndUpdate({ _id: sha256, count: { $gt: 0 } }, { $inc: { count: -1 } }, { returnDocument: 'after' })
      .lean<BlobRefsDocument | null>();
    // No document: a count never built for records older than it (see migrateBlobRefs); the records then say.
    const left = after ? after.count : await this.model.countDocuments({ sha256 });
    // Only a document still at 0: an upload's $inc since then keeps its count (or recreates it with 1).
    if (left <= 0) await this.refs.deleteOne({ _id: sha256, count: { $lte: 0 } });
    return left;
  }
}

/**
 * Builds the counts from the records written before they were kept, once per database. `$max` never
 * lowers a count, so two processes starting at once, or one that counted before another served an
 * upload, can only leave a count too high (an orphan), never too low. Runs before the store serves.
 */
async function migrateBlobRefs(conn: Connection, images: Model<ImageDocument>, refs: Model<BlobRefsDocument>) {
  const migrations = conn.model<MigrationDocument>('ImagesMigration', migrationSchema);
  if (await migrations.exists({ _id: 'blob-refs' })) return;
  const counted = images.aggregate<{ _id: string; count: number }>([
    { $group: { _id: '$sha256', count: { $sum: 1 } } },
  ]);
  let batch: Parameters<typeof refs.bulkWrite>[0] = [];
  const flush = async () => {
    if (batch.length) await refs.bulkWrite(batch, { ordered: false });
    batch = [];
  };
  for await (const { _id, count } of counted.cursor()) {
    batch.push({ updateOne: { filter: { _id }, update: { $max: { count } }, upsert: true } });
    if (batch.length >= 500) await flush();
  }
  await flush();
  await migrations.updateOne({ _id: 'blob-refs' }, { $setOnInsert: { appliedAt: new Date() } }, { upsert: true });
}

/** The images collection, in the database its MONGO_URL names; indexes are built before the first insert. */
export function createMongoImagesStore(url: string): Promise<ImagesStore> {
  return openMongoStore(url, async (conn) => {
    const model = conn.model<ImageDocument>('Image', imageSchema);
    const refs = conn.model<BlobRefsDocument>('ImageBlobRefs', blobRefsSchema);
    await model.createIndexes();
    await migrateBlobRefs(conn, model, refs);
    return { images: new MongoImages(model, refs) };
  });
}
