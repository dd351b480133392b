import { createHash, randomUUID } from 'node:crypto';
import { AppError, blobKeyForSha256, type BlobStore, type Logger, type UserId } from '@capcheck/shared';
import { headProbability, type HeadTrainingSet, type LinearHead } from './linear-head';
import type {
  AdaptationRecord,
  AdaptationRepository,
  AdaptedHead,
  LabelledPicture,
  LoadedModel,
  ModelProvider,
  ModelWriter,
} from './ports';

export interface AdaptationsDomainDeps {
  adaptations: AdaptationRepository;
  /** The pictures people labelled (feedback), each with its bytes' sha256. */
  feedback: { labelled(): Promise<LabelledPicture[]> };
  /** Read-only: the labelled pictures' bytes, by sha256. */
  blobs: BlobStore;
  model: ModelProvider;
  writer: ModelWriter;
  /** Fits the head off the event loop. */
  fitHead(set: HeadTrainingSet): Promise<LinearHead>;
  telemetry: { adaptation(status: 'succeeded' | 'failed'): void };
  logger: Logger;
  clock: { now(): Date };
  /** An adaptation not updated for this long is taken for dead (its process stopped) and failed. */
  staleAfterMs: number;
}

export interface AdaptationView {
  id: string;
  model: { name: string; parentVersion: string };
  status: AdaptationRecord['status'];
  version?: string;
  examples: { train: number; heldOut: number } | null;
  metrics?: AdaptationRecord['metrics'];
  error?: string;
  createdAt: string;
  updatedAt: string;
}

/** Fewer labelled pictures than this of either label is not enough to fit, nor to judge, a head. */
export const minExamplesPerLabel = 5;
/** The share of each label's pictures held out from the fit, to judge it. */
const heldOutShare = 0.25;
/** Pictures embedded per trip to the model's workers. */
const embedChunk = 8;

export const adaptationView = (a: AdaptationRecord): AdaptationView => ({
  id: a.id,
  model: { name: a.modelName, parentVersion: a.parentVersion },
  status: a.status,
  ...(a.version !== null && { version: a.version }),
  examples: a.examples,
  ...(a.metrics !== null && { metrics: a.metrics }),
  ...(a.error !== null && { error: a.error }),
  createdAt: a.createdAt.toISOString(),
  updatedAt: a.updatedAt.toISOString(),
});

const notFound = () => new AppError('not_found', 'not_found', 'adaptation not found');

interface Example {
  picture: LabelledPicture;
  embedding: Float32Array;
  /** The served model's class probabilities for it. */
  scores: Float32Array;
}

/**
 * Adapting the served model to a user's own pictures: a new head fitted on its `embedding` output from
 * the pictures people labelled, written as a new version that is not served until it is rolled out.
 */
export class AdaptationsDomain {
  /** The adaptation this process is running, so shutdown can wait for it. */
  private running: Promise<void> | null = null;

  constructor(private readonly deps: AdaptationsDomainDeps) {}

  async start(modelName: string, requestedBy: UserId): Promise<AdaptationView> {
    const model = this.servedModel(modelName);
    const pictures = uniqueBySha256(await this.deps.feedback.labelled(), model.manifest.labels);
    const missing = shortfall(pictures, model.manifest.labels);
    if (missing.length > 0) {
      throw new AppError(
        'unprocessable',
        'too_few_examples',
        `too few labelled pictures to adapt: ${missing.join('; ')} (at least ${minExamplesPerLabel} of each label)`,
      );
    }
    const now = this.deps.clock.now();
    await this.deps.adaptations.abandon(new Date(now.getTime() - this.deps.staleAfterMs), 'its process stopped');
    const record: AdaptationRecord = {
      id: randomUUID(),
      modelName,
      parentVersion: model.manifest.version,
      status: 'queued',
      requestedBy,
      createdAt: now,
      updatedAt: now,
      version: null,
      examples: null,
      metrics: null,
      error: null,
    };
    if (!(await this.deps.adaptations.start(record))) {
      throw new AppError(
        'conflict',
        'adaptation_running',
        `an adaptation of ${modelName} is already queued or running`,
      );
    }
    this.running = this.run(record, model, pictures).finally(() => (this.running = null));
    return adaptationView(record);
  }

  async get(modelName: string, id: string): Promise<AdaptationView> {
    const record = await this.deps.adaptations.find(id);
    if (!record || record.modelName !== modelName) throw notFound();
    return adaptationView(record);
  }

  async list(modelName: string): Promise<AdaptationView[]> {
    return (await this.deps.adaptations.list(modelName, 50)).map(adaptationView);
  }

  /** Shutdown: lets a running adaptation finish, within a bound; past it, the record is failed later as stale. */
  async drain(boundMs: number): Promise<void> {
    if (!this.running) return;
    await Promise.race([this.running, new Promise((resolve) => setTimeout(resolve, boundMs).unref())]);
  }

  private servedModel(modelName: string): LoadedModel {
    const model = this.deps.model.current();
    if (model.manifest.name !== modelName) throw new AppError('not_found', 'not_found', 'model not found');
    if (!model.manifest.embedding) {
      throw new AppError(
        'unprocessable',
        'model_cannot_adapt',
        `${model.manifest.name}/${model.manifest.version} has no embedding output to adapt`,
      );
    }
    if (model.manifest.labels.length !== 2) {
      throw new AppError('unprocessable', 'model_cannot_adapt', 'only models with two labels can be adapted');
    }
    return model;
  }

  private async run(record: AdaptationRecord, model: LoadedModel, pictures: LabelledPicture[]): Promise<void> {
    const { adaptations, logger } = this.deps;
    const touch = (changes: Parameters<AdaptationRepository['update']>[1] = {}) =>
      adaptations.update(record.id, { ...changes, updatedAt: this.deps.clock.now() });
    try {
      await touch({ status: 'running' });
      const examples = await this.embed(model, pictures, () => touch());
      const missing = shortfall(
        examples.map((e) => e.picture),
        model.manifest.labels,
      );
      if (missing.length > 0) throw new Error(`pictures could not be read: ${missing.join('; ')}`);
      const { train, heldOut } = stratifiedSplit(examples, record.id);
      // Judged on the held-out quarter, then fitted again on every example for the version it writes.
      const judged = await this.deps.fitHead(trainingSet(train, model.manifest.labels));
      const positive = model.manifest.labels[1]!;
      const accuracy = (right: (e: Example) => boolean) => heldOut.filter(right).length / heldOut.length;
      const metrics = {
        candidate: {
          accuracy: accuracy((e) => headProbability(judged, e.embedding) > 0.5 === (e.picture.label === positive)),
        },
        current: { accuracy: accuracy((e) => model.manifest.labels[argmax(e.scores)] === e.picture.label) },
      };
      const counts = { train: train.length, heldOut: heldOut.length };
      const head = await this.deps.fitHead(trainingSet(examples, model.manifest.labels));
      const version = await this.deps.writer.writeAdapted(model.manifest, twoClassHead(head), {
        parent: { version: model.manifest.version },
        adaptationId: record.id,
        requestedBy: record.requestedBy,
        createdAt: this.deps.clock.now(),
        l2: head.l2,
        examples: { ...counts, perLabel: countByLabel(examples.map((e) => e.picture)) },
        metrics,
      });
      await touch({ status: 'succeeded', version, examples: counts, metrics });
      this.deps.telemetry.adaptation('succeeded');
      logger.info({ adaptation: record.id, version, ...counts, metrics }, 'adaptation succeeded');
    } catch (err) {
      logger.warn({ err, adaptation: record.id }, 'adaptation failed');
      this.deps.telemetry.adaptation('failed');
      await touch({ status: 'failed', error: err instanceof Error ? err.message : String(err) }).catch((e: unknown) =>
        logger.error({ err: e, adaptation: record.id }, 'adaptation failure not recorded'),
      );
    }
  }

  /** Each readable picture's embedding and served verdict; a picture whose bytes are gone is skipped. */
  private async embed(model: LoadedModel, pictures: LabelledPicture[], progress: () => Promise<void>) {
    const examples: Example[] = [];
    for (let at = 0; at < pictures.length; at += embedChunk) {
      const chunk: { picture: LabelledPicture; pixels: Uint8Array }[] = [];
      for (const picture of pictures.slice(at, at + embedChunk)) {
        const bytes = await this.deps.blobs.get(blobKeyForSha256(picture.sha256));
        // Gone (deleted since) or not decodable: one example fewer, counted again before the fit.
        const pixels = bytes && (await model.preprocess(bytes).catch(() => null));
        if (pixels) chunk.push({ picture, pixels });
      }
      if (chunk.length === 0) continue;
      // In the background lane: predictions go first, so an adaptation slows serving little.
      const outputs = await model.outputsOf(
        chunk.map((c) => c.pixels),
        { background: true },
      );
      outputs.forEach(({ scores, embedding }, i) => {
        if (embedding) examples.push({ picture: chunk[i]!.picture, embedding, scores });
      });
      await progress();
    }
    return examples;
  }
}

/** One picture per sha256 (twins would leak between the fit and the held-out set), with a known label. */
function uniqueBySha256(pictures: LabelledPicture[], labels: string[]): LabelledPicture[] {
  const seen = new Map<string, LabelledPicture>();
  for (const p of pictures) if (labels.includes(p.label) && !seen.has(p.sha256)) seen.set(p.sha256, p);
  return [...seen.values()];
}

const countByLabel = (pictures: LabelledPicture[]) =>
  pictures.reduce<Record<string, number>>((n, p) => ({ ...n, [p.label]: (n[p.label] ?? 0) + 1 }), {});

/** "open: 3 (2 more needed)" for each label below the minimum. */
function shortfall(pictures: LabelledPicture[], labels: string[]): string[] {
  const counts = countByLabel(pictures);
  return labels
    .map((label) => ({ label, n: counts[label] ?? 0 }))
    .filter(({ n }) => n < minExamplesPerLabel)
    .map(({ label, n }) => `${label}: ${n} (${minExamplesPerLabel - n} more needed)`);
}

/** Per label, a quarter (at least one) held out; which ones depends only on the adaptation id. */
function stratifiedSplit(examples: Example[], seed: string) {
  const rank = (e: Example) => createHash('sha256').update(`${seed}:${e.picture.sha256}`).digest('hex');
  const train: Example[] = [];
  const heldOut: Example[] = [];
  const labels = [...new Set(examples.map((e) => e.picture.label))];
  for (const label of labels) {
    const members = examples.filter((e) => e.picture.label === label).sort((a, b) => rank(a).localeCompare(rank(b)));
    const held = Math.max(1, Math.round(members.length * heldOutShare));
    heldOut.push(...members.slice(0, held));
    train.push(...members.slice(held));
  }
  return { train, heldOut };
}

function trainingSet(examples: Example[], labels: string[]): HeadTrainingSet {
  const dims = examples[0]!.embedding.length;
  const features = new Float32Array(examples.length * dims);
  examples.forEach((e, i) => features.set(e.embedding, i * dims));
  return {
    features,
    rows: examples.length,
    dims,
    labels: Uint8Array.from(examples, (e) => (e.picture.label === labels[1] ? 1 : 0)),
  };
}

/** sigmoid(z) for label 1 is softmax([-z/2, z/2]): the logistic regression as a two-row head. */
function twoClassHead(head: LinearHead): AdaptedHead {
  const dims = head.weights.length;
  const weights = new Float32Array(2 * dims);
  head.weights.forEach((w, j) => {
    weights[j] = -w / 2;
    weights[dims + j] = w / 2;
  });
  return { weights, bias: Float32Array.from([-head.bias / 2, head.bias / 2]), classes: 2 };
}

const argmax = (scores: Float32Array) => scores.indexOf(Math.max(...scores));
