import {
  decodeCursor,
  openSqliteStore,
  toPage,
  type ApiKeyId,
  type ImageFormat,
  type ImageId,
  type Page,
  type StatementSource,
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
import { SqliteAdaptations } from './adaptations';
import { inferenceSchema } from './migrations';

interface PredictionRow {
  sha256: string;
  model_name: string;
  model_version: string;
  label: string;
  confidence: number;
  scores: string;
  created_at: number;
}

/**
 * Writes asked for in the same event-loop turn run in one transaction, in the order asked: one WAL
 * commit for the verdicts of a worker's whole batch, and one for their request logs, instead of one per
 * request. Each caller's promise still settles only once its own write is done (or failed), so nothing
 * is acknowledged before it is stored.
 */
class TurnWriter {
  private waiting: { run: () => void; done: () => void; failed: (err: unknown) => void }[] = [];
  private readonly runAll: (writes: (() => void)[]) => void;

  constructor(db: StatementSource) {
    this.runAll = db.transaction((writes: (() => void)[]) => {
      for (const write of writes) write();
    });
  }

  write<T>(op: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      let result: T;
      this.waiting.push({
        run: () => {
          result = op();
        },
        // Only once the transaction has committed: a write rolled back with it runs again below.
        done: () => resolve(result),
        failed: reject,
      });
      if (this.waiting.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.waiting;
    this.waiting = [];
    try {
      this.runAll(batch.map((w) => w.run));
      for (const w of batch) w.done();
    } catch {
      // The transaction rolled back as a whole: one at a time, so a bad write fails alone.
      for (const w of batch) {
        try {
          w.run();
          w.done();
        } catch (err) {
          w.failed(err);
        }
      }
    }
  }
}

class SqlitePredictions implements PredictionRepository {
  constructor(
    private readonly db: StatementSource,
    private readonly writer: TurnWriter,
  ) {}

  async find(sha256: string, modelName: string, modelVersion: string): Promise<PredictionRecord | null> {
    const row = this.db
      .prepare('SELECT * FROM predictions WHERE sha256 = ? AND model_name = ? AND model_version = ?')
      .get(sha256, modelName, modelVersion) as PredictionRow | undefined;
    return row
      ? {
          sha256: row.sha256,
          modelName: row.model_name,
          modelVersion: row.model_version,
          label: row.label,
          confidence: row.confidence,
          scores: JSON.parse(row.scores) as Record<string, number>,
          createdAt: new Date(row.created_at),
        }
      : null;
  }

  save(p: PredictionRecord): Promise<void> {
    return this.writer.write(() => this.insert(p));
  }

  private insert(p: PredictionRecord): void {
    this.db
      .prepare(
        `INSERT INTO predictions (sha256, model_name, model_version, label, confidence, scores, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
      .run(
        p.sha256,
        p.modelName,
        p.modelVersion,
        p.label,
        p.confidence,
        JSON.stringify(p.scores),
        p.createdAt.getTime(),
      );
  }

  /** In the same queue as saves, so a verdict saved just before its image's last copy went is deleted too. */
  deleteBySha256(sha256: string): Promise<number> {
    return this.writer.write(() => this.db.prepare('DELETE FROM predictions WHERE sha256 = ?').run(sha256).changes);
  }
}

interface PredictionLogRow {
  id: string;
  at: number;
  image_id: string | null;
  user_id: string;
  api_key_id: string | null;
  client_ip: string;
  user_agent: string;
  image_format: ImageFormat;
  image_sha256: string;
  label: string;
  confidence: number;
  model_name: string;
  model_version: string;
  cached: number;
  latency_ms: number;
  shadow_model_version: string | null;
  shadow_label: string | null;
  shadow_confidence: number | null;
}

const toPredictionLog = (r: PredictionLogRow): PredictionLogRecord => ({
  id: r.id,
  at: new Date(r.at),
  imageId: r.image_id as ImageId | null,
  userId: r.user_id as UserId,
  apiKeyId: r.api_key_id as ApiKeyId | null,
  clientIp: r.client_ip,
  userAgent: r.user_agent,
  imageFormat: r.image_format,
  imageSha256: r.image_sha256,
  label: r.label,
  confidence: r.confidence,
  modelName: r.model_name,
  modelVersion: r.model_version,
  cached: r.cached === 1,
  latencyMs: r.latency_ms,
  shadowModelVersion: r.shadow_model_version,
  shadowLabel: r.shadow_label,
  shadowConfidence: r.shadow_confidence,
});

class SqlitePredictionLogs implements PredictionLogRepository {
  constructor(
    private readonly db: StatementSource,
    private readonly writer: TurnWriter,
  ) {}

  append(record: PredictionLogRecord): Promise<void> {
    return this.writer.write(() => this.insert(record));
  }

  private insert(l: PredictionLogRecord): void {
    this.db
      .prepare(
        `INSERT INTO prediction_logs (id, at, image_id, user_id, api_key_id, client_ip, user_agent, image_format,
           image_sha256, label, confidence, model_name, model_version, cached, latency_ms,
           shadow_model_version, shadow_label, shadow_confidence)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        l.id,
        l.at.getTime(),
        l.imageId,
        l.userId,
        l.apiKeyId,
        l.clientIp,
        l.userAgent,
        l.imageFormat,
        l.imageSha256,
        l.label,
        l.confidence,
        l.modelName,
        l.modelVersion,
        l.cached ? 1 : 0,
        l.latencyMs,
        l.shadowModelVersion,
        l.shadowLabel,
        l.shadowConfidence,
      );
  }

  async query({ from, to, label, limit, cursor }: PredictionLogQuery): Promise<Page<PredictionLogRecord>> {
    const before = decodeCursor(cursor);
    const conditions = ['at >= ?', 'at < ?'];
    const params: (string | number)[] = [from.getTime(), to.getTime()];
    if (label !== undefined) {
      conditions.push('label = ?');
      params.push(label);
    }
    if (before) {
      conditions.push('(at, id) < (?, ?)');
      params.push(before.createdAt.getTime(), before.id);
    }
    const rows = this.db
      .prepare(`SELECT * FROM prediction_logs WHERE ${conditions.join(' AND ')} ORDER BY at DESC, id DESC LIMIT ?`)
      .all(...params, limit + 1) as PredictionLogRow[];
    return toPage(rows.map(toPredictionLog), limit, (l) => [l.at, l.id]);
  }

  async recordShadow(id: string, a: ShadowAnswer): Promise<void> {
    this.db
      .prepare(
        'UPDATE prediction_logs SET shadow_model_version = ?, shadow_label = ?, shadow_confidence = ? WHERE id = ?',
      )
      .run(a.modelVersion, a.label, a.confidence, id);
  }

  async deleteOlderThan(date: Date): Promise<number> {
    return this.db.prepare('DELETE FROM prediction_logs WHERE at < ?').run(date.getTime()).changes;
  }
}

interface FeedbackRow {
  image_id: string;
  user_id: string;
  sha256: string;
  label: string;
  predicted_label: string;
  predicted_confidence: number;
  model_name: string;
  model_version: string;
  created_at: number;
  updated_at: number;
}

const toFeedback = (r: FeedbackRow): FeedbackRecord => ({
  imageId: r.image_id as ImageId,
  userId: r.user_id as UserId,
  sha256: r.sha256,
  label: r.label,
  predicted: {
    label: r.predicted_label,
    confidence: r.predicted_confidence,
    model: { name: r.model_name, version: r.model_version },
  },
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

class SqliteFeedback implements FeedbackRepository {
  constructor(private readonly db: StatementSource) {}

  async upsert(f: FeedbackRecord): Promise<FeedbackRecord> {
    const row = this.db
      .prepare(
        `INSERT INTO feedback (image_id, user_id, sha256, label, predicted_label, predicted_confidence, model_name,
           model_version, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (image_id) DO UPDATE SET user_id = excluded.user_id, sha256 = excluded.sha256,
           label = excluded.label, predicted_label = excluded.predicted_label,
           predicted_confidence = excluded.predicted_confidence, model_name = excluded.model_name,
           model_version = excluded.model_version, updated_at = excluded.updated_at
         RETURNING *`,
      )
      .get(
        f.imageId,
        f.userId,
        f.sha256,
        f.label,
        f.predicted.label,
        f.predicted.confidence,
        f.predicted.model.name,
        f.predicted.model.version,
        f.createdAt.getTime(),
        f.updatedAt.getTime(),
      ) as FeedbackRow;
    return toFeedback(row);
  }

  async find(imageId: ImageId): Promise<FeedbackRecord | null> {
    const row = this.db.prepare('SELECT * FROM feedback WHERE image_id = ?').get(imageId) as FeedbackRow | undefined;
    return row ? toFeedback(row) : null;
  }

  async list({ label, limit, cursor }: FeedbackQuery): Promise<Page<FeedbackRecord>> {
    const before = decodeCursor(cursor);
    const conditions: string[] = [];
    const params: (string | number)[] = [];
    if (label !== undefined) {
      conditions.push('label = ?');
      params.push(label);
    }
    if (before) {
      conditions.push('(updated_at, image_id) < (?, ?)');
      params.push(before.createdAt.getTime(), before.id);
    }
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const rows = this.db
      .prepare(`SELECT * FROM feedback ${where} ORDER BY updated_at DESC, image_id DESC LIMIT ?`)
      .all(...params, limit + 1) as FeedbackRow[];
    return toPage(rows.map(toFeedback), limit, (f) => [f.updatedAt, f.imageId]);
  }

  async deleteByImageId(imageId: ImageId): Promise<number> {
    return this.db.prepare('DELETE FROM feedback WHERE image_id = ?').run(imageId).changes;
  }

  async labelled(): Promise<FeedbackRecord[]> {
    return (this.db.prepare('SELECT * FROM feedback ORDER BY image_id').all() as FeedbackRow[]).map(toFeedback);
  }
}

interface RolloutRow {
  model_name: string;
  current_version: string;
  candidate_version: string | null;
  candidate_mode: 'shadow' | 'canary' | null;
  candidate_percent: number | null;
  updated_at: number;
  updated_by: string;
}

class SqliteRollouts implements RolloutRepository {
  constructor(private readonly db: StatementSource) {}

  async find(modelName: string): Promise<RolloutRecord | null> {
    const row = this.db.prepare('SELECT * FROM rollouts WHERE model_name = ?').get(modelName) as RolloutRow | undefined;
    if (!row) return null;
    return {
      modelName: row.model_name,
      current: row.current_version,
      candidate:
        row.candidate_version && row.candidate_mode
          ? { version: row.candidate_version, mode: row.candidate_mode, percent: row.candidate_percent }
          : null,
      updatedAt: new Date(row.updated_at),
      updatedBy: row.updated_by as UserId,
    };
  }

  async save(r: RolloutRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO rollouts (model_name, current_version, candidate_version, candidate_mode, candidate_percent,
           updated_at, updated_by)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (model_name) DO UPDATE SET current_version = excluded.current_version,
           candidate_version = excluded.candidate_version, candidate_mode = excluded.candidate_mode,
           candidate_percent = excluded.candidate_percent, updated_at = excluded.updated_at,
           updated_by = excluded.updated_by`,
      )
      .run(
        r.modelName,
        r.current,
        r.candidate?.version ?? null,
        r.candidate?.mode ?? null,
        r.candidate?.percent ?? null,
        r.updatedAt.getTime(),
        r.updatedBy,
      );
  }
}

/** The inference service's tables in a SQLite file (which other services' tables may share). */
export function createSqliteInferenceStore(path: string): InferenceStore {
  return openSqliteStore(path, inferenceSchema, (db) => {
    const writer = new TurnWriter(db);
    return {
      predictions: new SqlitePredictions(db, writer),
      predictionLogs: new SqlitePredictionLogs(db, writer),
      feedback: new SqliteFeedback(db),
      rollouts: new SqliteRollouts(db),
      adaptations: new SqliteAdaptations(db),
    };
  });
}
