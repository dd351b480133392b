import { createHash, randomUUID } from 'node:crypto';
import {
  AppError,
  blobKeyForSha256,
  acceptedFormat,
  type Caller,
  type HandlerOutcome,
  type ImageDeleted,
  type ImageFormat,
  type ImageId,
  type ImageUploaded,
  type Page,
} from '@capcheck/shared';
import type {
  DescribedImage,
  LoadedModel,
  ModelState,
  PredictionLogQuery,
  PredictionLogRecord,
  PredictionRecord,
  PredictionsDomainDeps,
  RolloutTarget,
} from './ports';

export interface PredictionView {
  /** Null for a picture predicted without being stored. */
  imageId: ImageId | null;
  label: string;
  confidence: number;
  scores: Record<string, number>;
  /** False when the confidence is below the model's certainty threshold: a person should check. */
  certain: boolean;
  model: { name: string; version: string };
  cached: boolean;
  /** Whether the picture is kept as one of the caller's images. */
  stored: boolean;
}

/** A picture sent with the request (`POST /predict`, `/predict/batch`) rather than uploaded before. */
export interface SentPicture {
  bytes: Buffer;
  filename?: string | undefined;
}

/** One picture's outcome in a batch: its verdict, or why it has none. */
export type BatchResult = PredictionView | { error: AppError };

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
    // The bytes are fetched only on a miss: a cached verdict needs the description alone.
    const route = this.route(model, id);
    // Read once, for the current version and a shadow candidate alike, by digest: the description
    // above was the ownership check, so a second trip through the images service would only repeat it.
    const bytes = once(() => this.bytesOf(described));
    return this.answer(route, caller, context, { ...described, stored: true, started }, bytes);
  }

  /**
   * The served model's verdict on one of the caller's images, from the cache or computed, without
   * counting or logging a request: what an owner's feedback is compared with.
   */
  async verdictOn(
    caller: Caller,
    id: ImageId | null,
  ): Promise<{ image: DescribedImage; prediction: PredictionRecord }> {
    if (!id) throw imageNotFound();
    const model = this.deps.model.current();
    const image = await this.deps.imageSource.describe(caller, id);
    if (!image) throw imageNotFound();
    const { name, version } = model.manifest;
    const prediction =
      (await this.deps.predictions.find(image.sha256, name, version)) ??
      (await this.compute(model, image.sha256, await this.bytesOf(image)));
    return { image, prediction };
  }

  /**
   * A picture sent with the request: refused as an upload would be (empty 400, not JPEG/PNG/WebP 415,
   * undecodable 422), answered from the cache by sha256 or computed, logged, and stored only when
   * asked (as the caller's upload, through the images service).
   */
  async predictSent(
    caller: Caller,
    picture: SentPicture,
    context: RequestContext,
    options: { store: boolean },
  ): Promise<PredictionView> {
    const started = process.hrtime.bigint();
    const model = this.deps.model.current();
    const format = acceptedFormat(picture.bytes);
    const image = options.store
      ? await this.deps.imageSource.store(caller, picture)
      : { imageId: null, format, sha256: createHash('sha256').update(picture.bytes).digest('hex') };
    const route = this.route(model, image.imageId ?? image.sha256);
    return this.answer(route, caller, context, { ...image, stored: options.store, started }, async () => picture.bytes);
  }

  /**
   * Several pictures at once, nothing stored: all of them enter the worker pool's queue together, so
   * free workers take them in batches. A picture that cannot be read gets its own error; the others
   * their verdicts, in the order sent.
   */
  async predictBatch(caller: Caller, pictures: SentPicture[], context: RequestContext): Promise<BatchResult[]> {
    this.deps.model.current(); // no model, no batch: one 503 for the request, not one per picture
    const outcomes = await Promise.allSettled(
      pictures.map((picture) => this.predictSent(caller, picture, context, { store: false })),
    );
    return outcomes.map((outcome) => {
      if (outcome.status === 'fulfilled') return outcome.value;
      const err: unknown = outcome.reason;
      if (err instanceof AppError && err.kind !== 'unavailable') return { error: err };
      throw err;
    });
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

  /** The versions served: the current one and a candidate on trial, for `GET /models`. */
  servedVersions(): RolloutTarget | null {
    return this.deps.model.target();
  }

  queryLogs(query: PredictionLogQuery): Promise<Page<PredictionLogRecord>> {
    return this.deps.logs.query(query);
  }

  /** Retention: logs older than the configured number of days go. */
  async pruneLogs(): Promise<number> {
    const cutoff = new Date(this.deps.clock.now().getTime() - this.deps.logRetentionDays * 86_400_000);
    return this.deps.logs.deleteOlderThan(cutoff);
  }

  /**
   * Which version answers an image: during a canary, the candidate for its share of images (sticky:
   * by a hash of the image's id, or of its sha256 when it has none); otherwise the current one. In
   * shadow mode the candidate answers too, off the response path.
   */
  private route(current: LoadedModel, key: string): Route {
    const candidate = this.deps.model.candidate();
    if (!candidate) return { model: current, shadow: null };
    if (candidate.mode === 'shadow') return { model: current, shadow: candidate.model };
    return { model: inCanary(key, candidate.percent ?? 0) ? candidate.model : current, shadow: null };
  }

  /** The verdict on an image: from the cache by sha256, or computed from its bytes; then counted and logged. */
  private async answer(
    { model, shadow }: Route,
    caller: Caller,
    context: RequestContext,
    image: { imageId: ImageId | null; sha256: string; format: ImageFormat; stored: boolean; started: bigint },
    bytes: () => Promise<Buffer>,
  ): Promise<PredictionView> {
    const { name, version } = model.manifest;
    let prediction = await this.deps.predictions.find(image.sha256, name, version);
    const cached = prediction !== null;
    this.deps.telemetry.cache(cached ? 'hit' : 'miss');
    prediction ??= await this.compute(model, image.sha256, await bytes());
    const certain = isCertain(prediction.confidence, model.manifest.certaintyThreshold);
    this.deps.telemetry.prediction({
      label: prediction.label,
      model: name,
      confidence: prediction.confidence,
      certain,
      cached,
    });
    const log: PredictionLogRecord = {
      id: randomUUID(),
      at: this.deps.clock.now(),
      imageId: image.imageId,
      userId: caller.principal.userId,
      apiKeyId: caller.principal.apiKeyId ?? null,
      clientIp: context.clientIp,
      userAgent: context.userAgent.slice(0, 512),
      imageFormat: image.format,
      imageSha256: image.sha256,
      label: prediction.label,
      confidence: prediction.confidence,
      modelName: name,
      modelVersion: version,
      cached,
      latencyMs: Number(process.hrtime.bigint() - image.started) / 1e6,
      shadowModelVersion: null,
      shadowLabel: null,
      shadowConfidence: null,
    };
    const logged = await this.log(log);
    // Not awaited: the caller gets the current version's answer without waiting for the candidate's.
    if (shadow) void this.shadowAnswer(shadow, log, logged, bytes);
    return {
      imageId: image.imageId,
      label: prediction.label,
      confidence: prediction.confidence,
      scores: prediction.scores,
      certain,
      model: { name, version },
      cached,
      stored: image.stored,
    };
  }

  /** The bytes of an image the caller may see (described for them); gone since, it is not found. */
  private async bytesOf(image: DescribedImage): Promise<Buffer> {
    const bytes = await this.deps.blobs.get(blobKeyForSha256(image.sha256));
    if (!bytes) throw imageNotFound();
    return bytes;
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

  /** Whether the record was written. */
  private async log(record: PredictionLogRecord): Promise<boolean> {
    try {
      await this.deps.logs.append(record);
      return true;
    } catch (err) {
      this.deps.logger.warn({ err }, 'prediction log not written');
      return false;
    }
  }

  /** A shadow candidate's verdict on the same picture: counted (agreed or not) and added to the log record. */
  private async shadowAnswer(
    model: LoadedModel,
    log: PredictionLogRecord,
    logged: boolean,
    bytes: () => Promise<Buffer>,
  ): Promise<void> {
    const { name, version } = model.manifest;
    try {
      const prediction =
        (await this.deps.predictions.find(log.imageSha256, name, version)) ??
        (await this.compute(model, log.imageSha256, await bytes()));
      this.deps.telemetry.shadow({ modelVersion: version, agreed: prediction.label === log.label });
      if (logged) {
        await this.deps.logs.recordShadow(log.id, {
          modelVersion: version,
          label: prediction.label,
          confidence: prediction.confidence,
        });
      }
    } catch (err) {
      // The user has the current version's answer; a candidate that fails only costs its comparison.
      this.deps.logger.warn({ err, model: `${name}/${version}` }, 'shadow prediction failed');
    }
  }
}

/** The version that answers a prediction, and a shadow candidate that answers it too. */
interface Route {
  model: LoadedModel;
  shadow: LoadedModel | null;
}

/** Sticky canary split: the same key (image id or sha256) always lands in the same one of 100 buckets. */
export const canaryBucket = (key: string): number => createHash('sha256').update(key).digest().readUInt32BE(0) % 100;

const inCanary = (key: string, percent: number) => canaryBucket(key) < percent;

/** A lazy value computed at most once. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

/** A model without a threshold (uncalibrated, v1 and v2) claims nothing: its verdicts count as certain. */
const isCertain = (confidence: number, threshold: number | null) => threshold === null || confidence >= threshold;

/** Six decimals: enough for a score, and stable across a JSON round trip. */
const round = (p: number) => Math.round(p * 1e6) / 1e6;
