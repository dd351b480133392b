import { Schema, type Connection, type Model } from 'mongoose';
import {
  fromDocument,
  nullableText,
  requiredDate,
  requiredText,
  schemaOptions,
  toDocument,
  type Stored,
} from '@capcheck/shared';
import type { AdaptationRecord, AdaptationRepository } from '../../domain/ports';

/** `active` is true while queued or running: a partial unique index on it allows one per model. */
type AdaptationDocument = Stored<AdaptationRecord> & { active: boolean };

const adaptationSchema = new Schema<AdaptationDocument>(
  {
    _id: requiredText,
    modelName: requiredText,
    parentVersion: requiredText,
    status: { type: String, enum: ['queued', 'running', 'succeeded', 'failed'], required: true },
    active: { type: Boolean, required: true },
    requestedBy: requiredText,
    createdAt: requiredDate,
    updatedAt: requiredDate,
    version: nullableText,
    examples: { type: Schema.Types.Mixed, default: null },
    metrics: { type: Schema.Types.Mixed, default: null },
    error: nullableText,
  },
  schemaOptions('adaptations'),
);
adaptationSchema.index({ modelName: 1 }, { unique: true, partialFilterExpression: { active: true } });
adaptationSchema.index({ modelName: 1, createdAt: -1 });

const isActive = (status: AdaptationRecord['status']) => status === 'queued' || status === 'running';
const toAdaptation = ({ active: _active, ...doc }: AdaptationDocument) => fromDocument<AdaptationRecord>(doc);

class MongoAdaptations implements AdaptationRepository {
  constructor(private readonly model: Model<AdaptationDocument>) {}

  async start(a: AdaptationRecord): Promise<boolean> {
    try {
      await this.model.create({ ...toDocument(a), active: isActive(a.status) });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 11000) return false; // another one is queued or running
      throw err;
    }
  }

  async update(id: string, changes: Parameters<AdaptationRepository['update']>[1]): Promise<void> {
    const set: Record<string, unknown> = { ...changes };
    if (changes.status) set.active = isActive(changes.status);
    await this.model.updateOne({ _id: String(id) }, { $set: set }, { runValidators: true });
  }

  async find(id: string): Promise<AdaptationRecord | null> {
    const doc = await this.model.findById(String(id)).lean<AdaptationDocument>();
    return doc ? toAdaptation(doc) : null;
  }

  async list(modelName: string, limit: number): Promise<AdaptationRecord[]> {
    const docs = await this.model
      .find({ modelName: String(modelName) })
      .sort({ createdAt: -1, _id: -1 })
      .limit(limit)
      .lean<AdaptationDocument[]>();
    return docs.map(toAdaptation);
  }

  async abandon(before: Date, error: string): Promise<number> {
    const result = await this.model.updateMany(
      { active: true, updatedAt: { $lt: before } },
      { $set: { status: 'failed', active: false, error, updatedAt: new Date() } },
    );
    return result.modifiedCount;
  }
}

export async function mongoAdaptations(conn: Connection): Promise<AdaptationRepository> {
  const model = conn.model<AdaptationDocument>('Adaptation', adaptationSchema);
  await model.createIndexes();
  return new MongoAdaptations(model);
}
