import { AppError, type Logger } from '@capcheck/shared';
import type { LoadedModel, ModelManifest, ModelProvider, ModelState } from '../domain/ports';
import { createInferencePool, type InferencePool, type PoolTelemetry } from './inference-pool';
import { latestVersion, readModelManifest } from './model-repository';
import { preprocess } from './preprocess';

export interface ModelRuntimeOptions {
  modelDir: string;
  name: string;
  /** A version folder, or undefined for the newest. */
  version?: string | undefined;
  workers: number;
  maxBatch: number;
  maxQueue: number;
  /** Readiness fails when more predictions than this are queued (saturation), before the queue refuses work. */
  readyMaxQueue: number;
  maxImagePixels: number;
  telemetry: PoolTelemetry;
  logger: Logger;
}

/** The runtime's own view: the pool it serves with, and why loading failed. */
type ModelStatus =
  | { state: 'loading' }
  | { state: 'ready'; manifest: ModelManifest; pool: InferencePool }
  | { state: 'failed'; error: string };

/**
 * Loads the model in the background at start-up. A missing or broken model is reported by readiness
 * (naming the file) and by 503s, never by a crash loop.
 */
export class ModelRuntime implements ModelProvider {
  private status: ModelStatus = { state: 'loading' };
  private loaded: LoadedModel | undefined;
  readonly ready: Promise<void>;

  constructor(private readonly options: ModelRuntimeOptions) {
    this.ready = this.load();
  }

  state(): ModelState {
    const status = this.status;
    if (status.state !== 'ready') return { state: status.state };
    return { state: 'ready', manifest: status.manifest, workers: status.pool.size };
  }

  current(): LoadedModel {
    if (this.loaded) return this.loaded;
    const why = this.status.state === 'failed' ? 'the model could not be loaded' : 'the model is still loading';
    throw new AppError('unavailable', 'model_unavailable', why, { retryAfterSeconds: 5 });
  }

  /** For readiness: resolves when serving, rejects with the reason otherwise. */
  async check(): Promise<void> {
    if (this.status.state === 'failed') throw new Error(this.status.error);
    if (this.status.state === 'loading') throw new Error('loading');
    const depth = this.status.pool.queueDepth();
    // Saturated: tell the load balancer to send new work elsewhere before the queue refuses it.
    if (depth > this.options.readyMaxQueue) {
      throw new Error(`saturated: ${depth} predictions queued (over ${this.options.readyMaxQueue})`);
    }
  }

  async close(): Promise<void> {
    await this.ready;
    if (this.status.state === 'ready') await this.status.pool.close();
  }

  private async load(): Promise<void> {
    const { modelDir, name, logger } = this.options;
    try {
      const version = this.options.version ?? (await latestVersion(modelDir, name));
      const manifest = await readModelManifest(modelDir, name, version);
      const pool = await createInferencePool({
        model: manifest,
        workers: this.options.workers,
        maxBatch: this.options.maxBatch,
        maxQueue: this.options.maxQueue,
        telemetry: this.options.telemetry,
      });
      this.status = { state: 'ready', manifest, pool };
      const toPixels = (bytes: Buffer) => preprocess(bytes, manifest, this.options.maxImagePixels);
      this.loaded = {
        manifest,
        classify: async (bytes) => pool.run(await toPixels(bytes)),
        preprocess: toPixels,
        run: (images) => pool.runMany(images),
        outputsOf: (images) => pool.outputsOf(images),
      };
      logger.info({ model: `${manifest.name}/${manifest.version}`, workers: pool.size }, 'model loaded');
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.status = { state: 'failed', error };
      logger.error({ error }, 'model not loaded');
    }
  }
}
