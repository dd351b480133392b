import { Schema, type Connection, type FilterQuery, type Model } from 'mongoose';
import {
  decodeCursor,
  fromDocument,
  imageFormats,
  isInvalidDate,
  limitForPage,
  nullableText,
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
  type Stored,
  type UserId,
} from '@capcheck/shared';
import type {
  FeedbackQuery,
  FeedbackRecord,
  FeedbackRepository,
  InferenceStore,
  PredictionLogQuery,
  PredictionLogRecord,
  PredictionLogRepository,
  PredictionRecord,
  PredictionRepository,
  RolloutRecord,
  RolloutRepository,
  ShadowAnswer,
} from '../../domain/ports';
import { mongoAdaptations } from './adaptations';

/**
 * Keyed by a unique (sha256, modelName, modelVersion) index rather than a joined `_id` string, which
 * could make two different keys collide when a model name or version contains the separator.
 */
type PredictionDocument = PredictionRecord;

type PredictionLogDocument = Stored<PredictionLogRecord>;

const predictionSchema = new Schema<PredictionDocument>(
  {
    sha256: requiredText,
    modelName: requiredText,
    modelVersion: requiredText,
    label: requiredText,
    confidence: requiredNumber,
    // Labels are the model's own names, so the scores are an open object rather than fixed paths.
    scores: { type: Schema.Types.Mixed, required: true },
    createdAt: requiredDate,
  },
  schemaOptions('predictions'),
);
// The key, like SQLite's primary key; led by sha256, it also serves deleteBySha256.
predictionSchema.index({ sha256: 1, modelName: 1, modelVersion: 1 }, { unique: true });

const predictionLogSchema = new Schema<PredictionLogDocument>(
  {
    _id: requiredText,
    at: requiredDate,
    // Null for a picture predicted without being stored (POST /predict).
    imageId: nullableText,
    userId: requiredText,
    apiKeyId: nullableText,
    clientIp: requiredText,
    userAgent: requiredText,
    imageFormat: { type: String, enum: imageFormats, required: true },
    imageSha256: requiredText,
    label: requiredText,
    confidence: requiredNumber,
    modelName: requiredText,
    modelVersion: requiredText,
    cached: { type: Boolean, required: true },
    latencyMs: requiredNumber,
    // A shadow candidate's answer, added after the response (null without one).
    shadowModelVersion: nullableText,
    shadowLabel: nullableText,
    shadowConfidence: { type: Number, default: null },
  },
  schemaOptions('prediction_logs'),
);
// Serve query's sort and cursor, without and with the label filter, like SQLite's prediction_logs_at
// and prediction_logs_label_at.
predictionLogSchema.index({ at: -1, _id: -1 });
predictionLogSchema.index({ label: 1, at: -1, _id: -1 });

/** Keyed by the image id: one answer per image, the last one wins. */
interface FeedbackDocument {
  _id: string;
  userId: string;
  sha256: string;
  label: string;
  predicted: { label: string; confidence: number; model: { name: string; version: string } };
  createdAt: Date;
  updatedAt: Date;
}

const feedbackSchema = new Schema<FeedbackDocument>(
  {
    _id: requiredText,
    userId: requiredText,
    sha256: requiredText,
    label: requiredText,
    predicted: {
      label: requiredText,
      confidence: requiredNumber,
      model: { name: requiredText, version: requiredText },
    },
    createdAt: requiredDate,
    updatedAt: requiredDate,
  },
  schemaOptions('feedback'),
);
// Serve list's sort and cursor, without and with the label filter, like SQLite's feedback indexes.
feedbackSchema.index({ updatedAt: -1, _id: -1 });
feedbackSchema.index({ label: 1, updatedAt: -1, _id: -1 });

const toFeedback = (d: FeedbackDocument): FeedbackRecord => ({
  imageId: d._id as ImageId,
  userId: d.userId as UserId,
  sha256: d.sha256,
  label: d.label,
  predicted: {
    label: d.predicted.label,
    confidence: d.predicted.confidence,
    model: { name: d.predicted.model.name, version: d.predicted.model.version },
  },
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

const toPrediction = (d: PredictionDocument): PredictionRecord => ({
  sha256: d.sha256,
  modelName: d.modelName,
  modelVersion: d.modelVersion,
  label: d.label,
  confidence: d.confidence,
  scores: d.scores,
  createdAt: d.createdAt,
});

/** Records written before shadow rollouts have no shadow fields: they read as null. */
const toPredictionLog = (d: PredictionLogDocument): PredictionLogRecord => ({
  ...fromDocument<PredictionLogRecord>(d),
  shadowModelVersion: d.shadowModelVersion ?? null,
  shadowLabel: d.shadowLabel ?? null,
  shadowConfidence: d.shadowConfidence ?? null,
});

/** One document per model, keyed by its name. */
interface RolloutDocument {
  _id: string;
  current: string;
  candidate: { version: string; mode: 'shadow' | 'canary'; percent: number | null } | null;
  updatedAt: Date;
  updatedBy: string;
}

const rolloutSchema = new Schema<RolloutDocument>(
  {
    _id: requiredText,
    current: requiredText,
    candidate: {
      type: new Schema(
        {
          version: requiredText,
          mode: { type: String, enum: ['shadow', 'canary'], required: true },
          percent: { type: Number, default: null },
        },
        { _id: false },
      ),
      default: null,
    },
    updatedAt: requiredDate,
    updatedBy: requiredText,
  },
  schemaOptions('rollouts'),
);

class MongoPredictions implements PredictionRepository {
  constructor(private readonly model: Model<PredictionDocument>) {}

  async find(sha256: string, modelName: string, modelVersion: string): Promise<PredictionRecord | null> {
    const doc = await this.model
      .findOne({ sha256: String(sha256), modelName: String(modelName), modelVersion: String(modelVersion) })
      .lean<PredictionDocument>();
    return doc ? toPrediction(doc) : null;
  }

  async save(p: PredictionRecord): Promise<void> {
    const { sha256, modelName, modelVersion, label, confidence, scores, createdAt } = p;
    // Like SQLite's ON CONFLICT DO NOTHING: the unique key makes concurrent upserts settle on one
    // record, and $setOnInsert leaves a record that is already there untouched.
    await this.model.updateOne(
      { sha256: String(sha256), modelName: String(modelName), modelVersion: String(modelVersion) },
      { $setOnInsert: { label, confidence, scores, createdAt } },
      // Validators stand in for SQLite's NOT NULL columns; updates skip them by default.
      { upsert: true, runValidators: true },
    );
  }

  async deleteBySha256(sha256: string): Promise<number> {
    const result = await this.model.deleteMany({ sha256: String(sha256) });
    return result.deletedCount;
  }
}

class MongoPredictionLogs implements PredictionLogRepository {
  constructor(private readonly model: Model<PredictionLogDocument>) {}

  async append(l: PredictionLogRecord): Promise<void> {
    await this.model.create(toDocument(l));
  }

  async query({ from, to, label, limit, cursor }: PredictionLogQuery): Promise<Page<PredictionLogRecord>> {
    const before = decodeCursor(cursor);
    if (!pageCanMatch(limit, from, to, before?.createdAt)) return { items: [], nextCursor: null };
    const filter: FilterQuery<PredictionLogDocument> = { at: { $gte: from, $lt: to } };
    if (label !== undefined) filter.label = String(label);
    if (before) {
      filter.$or = [{ at: { $lt: before.createdAt } }, { at: before.createdAt, _id: { $lt: String(before.id) } }];
    }
    const docs = await limitForPage(this.model.find(filter).sort({ at: -1, _id: -1 }), limit).lean<
      PredictionLogDocument[]
    >();
    return toPage(docs.map(toPredictionLog), limit, (l) => [l.at, l.id]);
  }

  async recordShadow(id: string, a: ShadowAnswer): Promise<void> {
    await this.model.updateOne(
      { _id: String(id) },
      { $set: { shadowModelVersion: a.modelVersion, shadowLabel: a.label, shadowConfidence: a.confidence } },
    );
  }

  async deleteOlderThan(date: Date): Promise<number> {
    // SQLite compares against a NaN time as NULL and deletes nothing; Mongo would reject the date.
    if (isInvalidDate(date)) return 0;
    const result = await this.model.deleteMany({ at: { $lt: date } });
    return result.deletedCount;
  }
}

class MongoFeedback implements FeedbackRepository {
  constructor(private readonly model: Model<FeedbackDocument>) {}

  async upsert(f: FeedbackRecord): Promise<FeedbackRecord> {
    const { userId, sha256, label, predicted, updatedAt } = f;
    // One atomic upsert by _id: concurrent answers settle on one record, the first createdAt stays.
    const doc = await this.model
      .findOneAndUpdate(
        { _id: String(f.imageId) },
        { $set: { userId, sha256, label, predicted, updatedAt }, $setOnInsert: { createdAt: f.createdAt } },
        { upsert: true, returnDocument: 'after', runValidators: true },
      )
      .lean<FeedbackDocument>();
    if (!doc) throw new Error('feedback upsert returned no document');
    return toFeedback(doc);
  }

  async find(imageId: ImageId): Promise<FeedbackRecord | null> {
    const doc = await this.model.findById(String(imageId)).lean<FeedbackDocument>();
    return doc ? toFeedback(doc) : null;
  }

  async list({ label, limit, cursor }: FeedbackQuery): Promise<Page<FeedbackRecord>> {
    const before = decodeCursor(cursor);
    if (!pageCanMatch(limit, before?.createdAt)) return { items: [], nextCursor: null };
    const filter: FilterQuery<FeedbackDocument> = {};
    if (label !== undefined) filter.label = String(label);
    if (before) {
      filter.$or = [
        { updatedAt: { $lt: before.createdAt } },
        { updatedAt: before.createdAt, _id: { $lt: String(before.id) } },
      ];
    }
    const docs = await limitForPage(this.model.find(filter).sort({ updatedAt: -1, _id: -1 }), limit).lean<
      FeedbackDocument[]
    >();
    return toPage(docs.map(toFeedback), limit, (f) => [f.updatedAt, f.imageId]);
  }

  async deleteByImageId(imageId: ImageId): Promise<number> {
    const result = await this.model.deleteOne({ _id: String(imageId) });
    return result.deletedCount;
  }

  async labelled(): Promise<FeedbackRecord[]> {
    const docs = await this.model.find({}).sort({ _id: 1 }).lean<FeedbackDocument[]>();
    return docs.map(toFeedback);
  }
}

class MongoRollouts implements RolloutRepository {
  constructor(private readonly model: Model<RolloutDocument>) {}

  async find(modelName: string): Promise<RolloutRecord | null> {
    const doc = await this.model.findById(String(modelName)).lean<RolloutDocument>();
    if (!doc) return null;
    const candidate = doc.candidate
      ? { version: doc.candidate.version, mode: doc.candidate.mode, percent: doc.candidate.percent ?? null }
      : null;
    return {
      modelName: doc._id,
      current: doc.current,
      candidate,
      updatedAt: doc.updatedAt,
      updatedBy: doc.updatedBy as UserId,
    };
  }

  async save(r: RolloutRecord): Promise<void> {
    const { current, candidate, updatedAt, updatedBy } = r;
    await this.model.replaceOne(
      { _id: String(r.modelName) },
      { current, candidate, updatedAt, updatedBy },
      { upsert: true, runValidators: true },
    );
  }
}

/** Registers the models and waits for their indexes: the prediction key must exist before the first upsert. */
async function createInferenceModels(conn: Connection) {
  const predictions = conn.model<PredictionDocument>('Prediction', predictionSchema);
  const predictionLogs = conn.model<PredictionLogDocument>('PredictionLog', predictionLogSchema);
  const feedback = conn.model<FeedbackDocument>('Feedback', feedbackSchema);
  const rollouts = conn.model<RolloutDocument>('Rollout', rolloutSchema);
  // The rollout's key is its _id: no index to build.
  await Promise.all([predictions.createIndexes(), predictionLogs.createIndexes(), feedback.createIndexes()]);
  return { predictions, predictionLogs, feedback, rollouts };
}

/** The inference service's collections, in the database its MONGO_URL names. */
export function createMongoInferenceStore(url: string): Promise<InferenceStore> {
  return openMongoStore(url, async (conn) => {
    const models = await createInferenceModels(conn);
    return {
      predictions: new MongoPredictions(models.predictions),
      predictionLogs: new MongoPredictionLogs(models.predictionLogs),
      feedback: new MongoFeedback(models.feedback),
      rollouts: new MongoRollouts(models.rollouts),
      adaptations: await mongoAdaptations(conn),
    };
  });
}
