import { Schema, type FilterQuery, type Model } from 'mongoose';
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
import type { ImageRecord, ImageRepository, ImagesStore } from '../../domain/ports';

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

class MongoImages implements ImageRepository {
  constructor(private readonly model: Model<ImageDocument>) {}

  async create(i: ImageRecord): Promise<void> {
    await this.model.create(toDocument(i));
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

  async deleteOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null> {
    const doc = await this.model.findOneAndDelete({ _id: String(id), ownerId: String(ownerId) }).lean<ImageDocument>();
    return doc ? toImage(doc) : null;
  }

  async countBySha256(sha256: string): Promise<number> {
    return this.model.countDocuments({ sha256: String(sha256) });
  }
}

/** The images collection, in the database its MONGO_URL names; indexes are built before the first insert. */
export function createMongoImagesStore(url: string): Promise<ImagesStore> {
  return openMongoStore(url, async (conn) => {
    const model = conn.model<ImageDocument>('Image', imageSchema);
    await model.createIndexes();
    return { images: new MongoImages(model) };
  });
}
