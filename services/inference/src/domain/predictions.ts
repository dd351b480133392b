import { randomUUID } from 'node:crypto';
import {
  AppError,
  blobKeyForSha256,
  type Caller,
  type HandlerOutcome,
  type ImageDeleted,
  type ImageId,
  type ImageUploaded,
  type Page,
} from '@capcheck/shared';
import type {
  LoadedModel,
  ModelState,
  PredictionLogQuery,
  PredictionLogRecord,
  PredictionRecord,
  PredictionsDomainDeps,
} from './ports';

export interface PredictionView {
  imageId: ImageId;
  label: string;
  confidence: number;
  scores: Record<string, number>;
  model: { name: string; version: string };
  cached: boolean;
}

export interface RequestContext {
  clientIp: string;
  userAgent: string;
}

const imageNotFound = () => new AppError('not_found', 'not_found', 'image not found');

export class PredictionsDomain {
  /** Concurrent requests for the same bytes share one inference (no cache stampede). */
  private readonly computing = new Map<string, Promise<PredictionRecord>>();

  constructor(private readonly deps: PredictionsDomainDeps) {}

  async predict(caller: Caller, id: ImageId | null, context: RequestContext): Promise<PredictionView> {
    const started = process.hrtime.bigint();
    if (!id) throw imageNotFound();
    const model = this.deps.model.current();
    const described = await this.deps.imageSource.describe(caller, id);
    if (!described) throw imageNotFound();
    const { name, version } = model.manifest;
    let prediction = await this.deps.predictions.find(described.sha256, name, version);
    const cached = prediction !== null;
    this.deps.telemetry.cache(cached ? 'hit' : 'miss');
    if (!prediction) {
      const image = await this.deps.imageSource.read(caller, id);
      if (!image) throw imageNotFound();
      prediction = await this.compute(model, image.sha256, image.bytes);
    }
    this.deps.telemetry.prediction(prediction.label, name, prediction.confidence, cached);
    await this.log({
      id: randomUUID(),
      at: this.deps.clock.now(),
      imageId: id,
      userId: caller.principal.userId,
      apiKeyId: caller.principal.apiKeyId ?? null,
      clientIp: context.clientIp,
      userAgent: context.userAgent.slice(0, 512),
      imageFormat: described.format,
      imageSha256: described.sha256,
      label: prediction.label,
      confidence: prediction.confidence,
      modelName: name,
      modelVersion: version,
      cached,
      latencyMs: Number(process.hrtime.bigint() - started) / 1e6,
    });
    return {
      imageId: id,
      label: prediction.label,
      confidence: prediction.confidence,
      scores: prediction.scores,
      model: { name, version },
      cached,
    };
  }

  /** `image.uploaded`: compute ahead of the first request. Idempotent: known bytes are skipped. */
  async precompute(event: ImageUploaded): Promise<HandlerOutcome> {
    const model = this.deps.model.current();
    const { name, version } = model.manifest;
    if (await this.deps.predictions.find(event.sha256, name, version)) return 'ack';
    const bytes = await this.deps.blobs.get(blobKeyForSha256(event.sha256));
    if (!bytes) return 'ack'; // deleted since; nothing to precompute
    try {
      await this.compute(model, event.sha256, bytes);
    } catch (err) {
      // Bytes the model cannot read will never become readable: retrying would only fill the DLQ later.
      if (err instanceof AppError && err.kind === 'unprocessable') return 'ack';
      throw err;
    }
    return 'ack';
  }

  /** `image.deleted`: drop verdicts on bytes no image references any more (the event says so). */
  async forget(event: ImageDeleted): Promise<HandlerOutcome> {
    if (event.lastCopy) await this.deps.predictions.deleteBySha256(event.sha256);
    return 'ack';
  }

  /** The model being served, for `GET /models`. */
  model(): ModelState {
    return this.deps.model.state();
  }

  queryLogs(query: PredictionLogQuery): Promise<Page<PredictionLogRecord>> {
    return this.deps.logs.query(query);
  }

  /** Retention: logs older than the configured number of days go. */
  async pruneLogs(): Promise<number> {
    const cutoff = new Date(this.deps.clock.now().getTime() - this.deps.logRetentionDays * 86_400_000);
    return this.deps.logs.deleteOlderThan(cutoff);
  }

  private compute(model: LoadedModel, sha256: string, bytes: Buffer): Promise<PredictionRecord> {
    const { name, version, labels } = model.manifest;
    const key = `${sha256}:${name}:${version}`;
    const running = this.computing.get(key);
    if (running) return running;
    const work = (async () => {
      const started = process.hrtime.bigint();
      const probabilities = await model.classify(bytes);
      this.deps.telemetry.inference(Number(process.hrtime.bigint() - started) / 1e9);
      const scores = Object.fromEntries(labels.map((label, i) => [label, round(probabilities[i] ?? 0)]));
      let best = 0;
      probabilities.forEach((p, i) => {
        if (p > (probabilities[best] ?? 0)) best = i;
      });
      const record: PredictionRecord = {
        sha256,
        modelName: name,
        modelVersion: version,
        label: labels[best] ?? 'unknown',
        confidence: round(probabilities[best] ?? 0),
        scores,
        createdAt: this.deps.clock.now(),
      };
      // The verdict is computed: a cache that cannot take it (a full disk) costs a later recomputation,
      // not this answer.
      await this.deps.predictions.save(record).catch((err: unknown) => {
        this.deps.logger.warn({ err, sha256 }, 'verdict not cached');
      });
      return record;
    })().finally(() => this.computing.delete(key));
    this.computing.set(key, work);
    return work;
  }

  private async log(record: PredictionLogRecord): Promise<void> {
    try {
      await this.deps.logs.append(record);
    } catch (err) {
      this.deps.logger.warn({ err }, 'prediction log not written');
    }
  }
}

/** Six decimals: enough for a score, and stable across a JSON round trip. */
const round = (p: number) => Math.round(p * 1e6) / 1e6;
