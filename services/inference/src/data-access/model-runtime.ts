import { setTimeout as delay } from 'node:timers/promises';
import { AppError, type Logger } from '@capcheck/shared';
import type {
  CandidateModel,
  LoadedModel,
  ModelManifest,
  ModelProvider,
  ModelState,
  ModelVersions,
  RolloutTarget,
} from '../domain/ports';
import { createInferencePool, type InferencePool, type PoolTelemetry } from './inference-pool';
import { latestVersion, readVersionManifest, versionExists, type ModelFolders } from './model-repository';
import { prepareRecipe, preprocess } from './preprocess';

/** The pools' telemetry, and which versions this replica serves. */
export interface RuntimeTelemetry extends PoolTelemetry {
  serving(model: string, target: RolloutTarget): void;
}

export interface ModelRuntimeOptions {
  folders: ModelFolders;
  name: string;
  /** The version served when no rollout is stored: a version folder, or undefined for the newest shipped one. */
  version?: string | undefined;
  workers: number;
  /** Workers of a candidate's pool: it answers beside the current version, so it gets fewer. */
  candidateWorkers: number;
  maxBatch: number;
  maxQueue: number;
  /** Readiness fails when more predictions than this are queued (saturation), before the queue refuses work. */
  readyMaxQueue: number;
  maxImagePixels: number;
  telemetry: RuntimeTelemetry;
  logger: Logger;
  /** The stored rollout, read once at start-up: it wins over `version`, so a restart keeps the rollout. */
  storedTarget?: () => Promise<RolloutTarget | null>;
}

/** One version, loaded into a pool of its own. */
interface ServedVersion {
  manifest: ModelManifest;
  pool: InferencePool;
  model: LoadedModel;
}

type Role = 'current' | 'candidate';

interface Serving {
  target: RolloutTarget;
  current: ServedVersion;
  candidate: ServedVersion | null;
}

/** How long a pool no longer served keeps taking work from requests that picked it just before the switch. */
const retireGraceMs = 1_000;
/** How long a retired pool may take to drain its queue before it is closed anyway. */
const retireDrainMs = 10_000;

const sameTarget = (a: RolloutTarget, b: RolloutTarget) =>
  a.current === b.current &&
  a.candidate?.version === b.candidate?.version &&
  a.candidate?.mode === b.candidate?.mode &&
  a.candidate?.percent === b.candidate?.percent;

/**
 * Serves the current version of the model and, during a rollout, a candidate, each in its own worker
 * pool. Versions load on demand, in the background at start-up: a missing or broken model is
 * reported by readiness (naming the file) and by 503s, never by a crash loop. A version no longer
 * needed is closed once the requests already on it are done.
 */
export class ModelRuntime implements ModelProvider, ModelVersions {
  private failure: string | undefined;
  private serving: Serving | undefined;
  /** Pools by role and version, loaded or loading. */
  private readonly pools = new Map<string, Promise<ServedVersion>>();
  private readonly retiring = new Set<InferencePool>();
  /** Loads and switches one at a time, in the order asked. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The last reason a candidate did not load, logged once rather than at every poll. */
  private candidateFailure: string | undefined;
  private closed = false;
  readonly ready: Promise<void>;

  constructor(private readonly options: ModelRuntimeOptions) {
    this.ready = this.start();
  }

  get name(): string {
    return this.options.name;
  }

  state(): ModelState {
    if (this.serving)
      return { state: 'ready', manifest: this.serving.current.manifest, workers: this.serving.current.pool.size };
    return { state: this.failure === undefined ? 'loading' : 'failed' };
  }

  current(): LoadedModel {
    if (this.serving) return this.serving.current.model;
    const why = this.failure === undefined ? 'the model is still loading' : 'the model could not be loaded';
    throw new AppError('unavailable', 'model_unavailable', why, { retryAfterSeconds: 5 });
  }

  candidate(): CandidateModel | null {
    const candidate = this.serving?.candidate;
    const how = this.serving?.target.candidate;
    return candidate && how ? { model: candidate.model, mode: how.mode, percent: how.percent } : null;
  }

  target(): RolloutTarget | null {
    return this.serving?.target ?? null;
  }

  exists(version: string): boolean {
    return versionExists(this.options.folders, this.options.name, version);
  }

  /** For readiness: resolves when serving, rejects with the reason otherwise. */
  async check(): Promise<void> {
    if (!this.serving) throw new Error(this.failure ?? 'loading');
    const depth = this.serving.current.pool.queueDepth();
    // Saturated: tell the load balancer to send new work elsewhere before the queue refuses it.
    if (depth > this.options.readyMaxQueue) {
      throw new Error(`saturated: ${depth} predictions queued (over ${this.options.readyMaxQueue})`);
    }
  }

  prepare(target: RolloutTarget): Promise<void> {
    return this.serialised(async () => {
      const wanted: [Role, string][] = [['current', target.current]];
      if (target.candidate) wanted.push(['candidate', target.candidate.version]);
      for (const [role, version] of wanted) {
        try {
          await this.served(role, version);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          throw new AppError('unprocessable', 'model_not_loadable', `version ${version} does not load: ${reason}`, {
            cause: err,
          });
        }
      }
    });
  }

  follow(target: RolloutTarget): Promise<void> {
    return this.serialised(() => this.switchTo(target));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ready;
    await this.queue.catch(() => undefined);
    const pools = await Promise.allSettled([...this.pools.values()]);
    this.pools.clear();
    const all = [...this.retiring, ...pools.flatMap((p) => (p.status === 'fulfilled' ? [p.value.pool] : []))];
    this.retiring.clear();
    await Promise.all(all.map((pool) => pool.close()));
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async start(): Promise<void> {
    const { folders, name, logger } = this.options;
    try {
      const stored = await this.options.storedTarget?.().catch((err: unknown) => {
        logger.warn({ err }, 'stored rollout not read: serving the configured version');
        return null;
      });
      // Without a stored rollout: the configured version, or the newest shipped one. An adapted version
      // is served only once rolled out, never just because it is newer.
      const configured = async () => this.options.version ?? (await latestVersion(folders.shipped, name));
      await this.follow(stored ?? { current: await configured(), candidate: null });
    } catch (err) {
      this.failure = err instanceof Error ? err.message : String(err);
      logger.error({ error: this.failure }, 'model not loaded');
    }
  }

  /**
   * Serves the target once its versions are loaded. A current version that does not load leaves the
   * serving ones as they are (the caller hears why); a candidate that does not load is left out, and
   * tried again at the next follow.
   */
  private async switchTo(target: RolloutTarget): Promise<void> {
    if (this.closed || (this.serving && sameTarget(this.serving.target, target))) return;
    const current = await this.served('current', target.current);
    let candidate: ServedVersion | null = null;
    if (target.candidate) {
      try {
        candidate = await this.served('candidate', target.candidate.version);
        this.candidateFailure = undefined;
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        if (error !== this.candidateFailure) this.options.logger.error({ error }, 'candidate model not loaded');
        this.candidateFailure = error;
      }
    }
    const previous = this.serving?.target;
    this.serving = {
      target: { current: target.current, candidate: candidate ? target.candidate : null },
      current,
      candidate,
    };
    this.failure = undefined;
    this.retireUnused();
    if (!previous || !sameTarget(previous, this.serving.target)) {
      this.options.telemetry.serving(this.options.name, this.serving.target);
      this.options.logger.info({ model: this.options.name, ...this.serving.target }, 'serving model versions');
    }
  }

  /** A version's pool for a role, loaded once; a load that fails is forgotten, so it is tried again. */
  private served(role: Role, version: string): Promise<ServedVersion> {
    const key = `${role}/${version}`;
    let loading = this.pools.get(key);
    if (!loading) {
      loading = this.load(role, version);
      loading.catch(() => this.pools.delete(key));
      this.pools.set(key, loading);
    }
    return loading;
  }

  private async load(role: Role, version: string): Promise<ServedVersion> {
    const { folders, name, telemetry } = this.options;
    const manifest = await readVersionManifest(folders, name, version);
    prepareRecipe(manifest);
    const pool = await createInferencePool({
      model: manifest,
      maxImagePixels: this.options.maxImagePixels,
      workers: role === 'current' ? this.options.workers : this.options.candidateWorkers,
      maxBatch: this.options.maxBatch,
      maxQueue: this.options.maxQueue,
      // The queue depth gauge (and readiness) follow the current version's pool.
      telemetry: role === 'current' ? telemetry : { batch: telemetry.batch, queueDepth: () => undefined },
    });
    const model: LoadedModel = {
      manifest,
      classify: (bytes) => pool.classify(bytes),
      classifyEach: (pictures) => pool.classifyEach(pictures),
      preprocess: (bytes) => preprocess(bytes, manifest, this.options.maxImagePixels),
      run: (images) => pool.runMany(images),
      outputsOf: (images, options) => pool.outputsOf(images, options),
    };
    this.options.logger.info({ model: `${name}/${version}`, role, workers: pool.size }, 'model loaded');
    return { manifest, pool, model };
  }

  /** Closes the pools the served target no longer uses, once the requests already on them are done. */
  private retireUnused(): void {
    const { target } = this.serving!;
    const keep = new Set([`current/${target.current}`, `candidate/${target.candidate?.version}`]);
    for (const [key, loading] of this.pools) {
      if (keep.has(key)) continue;
      this.pools.delete(key);
      void loading.then(
        (served) => this.retire(served.pool),
        () => undefined,
      );
    }
  }

  private async retire(pool: InferencePool): Promise<void> {
    this.retiring.add(pool);
    await delay(retireGraceMs, undefined, { ref: false });
    const until = Date.now() + retireDrainMs;
    while (pool.queueDepth() > 0 && Date.now() < until) await delay(50, undefined, { ref: false });
    // Unless close() has taken it over already.
    if (this.retiring.delete(pool)) await pool.close();
  }
}
