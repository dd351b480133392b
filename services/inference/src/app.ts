import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router } from 'express';
import {
  type AccessTokenVerifier,
  type BlobStore,
  type EventBus,
  type HandlerOutcome,
  type ImageDeleted,
  type Logger,
  type Metrics,
} from '@capcheck/shared';
import { modelFoldersOf, type InferenceConfig } from './config';
import { fitHeadOffThread } from './data-access/head-fitter';
import type { ModelFolders } from './data-access/model-repository';
import { ModelRuntime } from './data-access/model-runtime';
import { folderModelWriter } from './data-access/model-writer';
import { AdaptationsDomain } from './domain/adaptations';
import type { ImageSource, InferenceStore } from './domain/ports';
import { FeedbackDomain } from './domain/feedback';
import { PredictionsDomain } from './domain/predictions';
import { RolloutsDomain, storedTarget } from './domain/rollouts';
import { adaptationPathPrefixes, createAdaptationRouter } from './entry-points/http/adaptations';
import { createFeedbackRouter, feedbackPathPrefixes } from './entry-points/http/feedback';
import { createOpenInferenceRouter, openInferencePathPrefixes } from './entry-points/http/open-inference';
import { createInferenceRouter, predictionPathPrefixes } from './entry-points/http/routes';
import { promTelemetry } from './telemetry';

export interface InferenceDeps {
  config: InferenceConfig & { DATA_DIR: string };
  store: InferenceStore;
  blobs: BlobStore;
  imageSource: ImageSource;
  verifier: AccessTokenVerifier;
  logger: Logger;
  metrics: Metrics;
}

/** The path space this service owns; the gateway routes these prefixes here. */
export const inferencePathPrefixes = [
  ...new Set([
    ...predictionPathPrefixes,
    ...feedbackPathPrefixes,
    // Rollouts and adaptations share /admin/api/models.
    ...adaptationPathPrefixes,
    ...openInferencePathPrefixes,
  ]),
];

/** Paths whose bodies the inference routers read themselves (the shell's JSON parser skips them). */
export const inferenceOwnBodyPaths = openInferencePathPrefixes;

const serviceVersion: string = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version;

export interface InferenceService {
  router: Router;
  precompute: boolean;
  domain: PredictionsDomain;
  feedback: FeedbackDomain;
  adaptations: AdaptationsDomain;
  runtime: ModelRuntime;
  rollouts: RolloutsDomain;
  /** The shipped and the adapted model folders (adaptation writes new versions into the latter). */
  folders: ModelFolders;
  rolloutPollMs: number;
}

/** A fit of thousands of examples takes seconds; this bounds a pathological one. */
const fitTimeoutMs = 120_000;
/** An adaptation whose record has not moved for this long is taken for dead (its process stopped). */
const adaptationStaleMs = 600_000;

export function createInferenceService(deps: InferenceDeps): InferenceService {
  const { config } = deps;
  const readyMaxQueue = config.INFERENCE_READY_MAX_QUEUE ?? Math.floor(config.INFERENCE_MAX_QUEUE * 0.8);
  const telemetry = promTelemetry(deps.metrics, readyMaxQueue);
  const folders = modelFoldersOf(config);
  // Each version that becomes current gets its feedback series at 0, so Grafana's increase() counts
  // their first answer. (Called once versions are loaded, never while the runtime is being built.)
  const runtimeTelemetry: typeof telemetry = {
    ...telemetry,
    serving(model, target) {
      telemetry.serving(model, target);
      const served = runtime.state();
      if (served.state === 'ready') telemetry.startFeedbackSeries(served.manifest.labels, target.current);
    },
  };
  const runtime: ModelRuntime = new ModelRuntime({
    folders,
    name: config.MODEL_NAME,
    version: config.MODEL_VERSION,
    workers: config.INFERENCE_WORKERS,
    candidateWorkers: config.INFERENCE_CANDIDATE_WORKERS,
    maxBatch: config.INFERENCE_MAX_BATCH,
    maxQueue: config.INFERENCE_MAX_QUEUE,
    readyMaxQueue,
    maxImagePixels: config.MAX_IMAGE_PIXELS,
    telemetry: runtimeTelemetry,
    logger: deps.logger,
    storedTarget: () => storedTarget(deps.store.rollouts, config.MODEL_NAME),
  });
  const rollouts = new RolloutsDomain({
    rollouts: deps.store.rollouts,
    models: runtime,
    logger: deps.logger,
    clock: { now: () => new Date() },
  });
  const domain = new PredictionsDomain({
    imageSource: deps.imageSource,
    blobs: deps.blobs,
    predictions: deps.store.predictions,
    logs: deps.store.predictionLogs,
    model: runtime,
    telemetry,
    logger: deps.logger,
    clock: { now: () => new Date() },
    logRetentionDays: config.PREDICTION_LOG_RETENTION_DAYS,
  });
  const feedback = new FeedbackDomain({
    feedback: deps.store.feedback,
    verdicts: domain,
    model: runtime,
    telemetry,
    clock: { now: () => new Date() },
  });
  const adaptations = new AdaptationsDomain({
    adaptations: deps.store.adaptations,
    feedback: deps.store.feedback,
    blobs: deps.blobs,
    model: runtime,
    writer: folderModelWriter(folders),
    fitHead: (set) => fitHeadOffThread(set, fitTimeoutMs),
    telemetry,
    logger: deps.logger,
    clock: { now: () => new Date() },
    staleAfterMs: adaptationStaleMs,
  });
  return {
    domain,
    feedback,
    adaptations,
    runtime,
    rollouts,
    folders,
    rolloutPollMs: config.ROLLOUT_POLL_MS,
    precompute: config.INFERENCE_PRECOMPUTE,
    router: Router().use(
      // First: its routes authenticate themselves, so /predict/:id/feedback is not verified twice.
      createFeedbackRouter({ feedback, verifier: deps.verifier }),
      createAdaptationRouter({ adaptations, verifier: deps.verifier }),
      createInferenceRouter({
        domain,
        rollouts,
        verifier: deps.verifier,
        maxUploadBytes: config.MAX_UPLOAD_BYTES,
      }),
      createOpenInferenceRouter({
        models: runtime,
        verifier: deps.verifier,
        serverVersion: serviceVersion,
        maxBodyBytes: config.OPEN_INFERENCE_MAX_BODY_BYTES,
      }),
    ),
  };
}

/**
 * Background work: precompute on `image.uploaded`, forget verdicts and feedback on `image.deleted`,
 * follow the stored rollout, and prune request logs hourly. Returns a stop function for shutdown.
 */
export async function startInferenceBackground(
  service: InferenceService,
  events: EventBus,
  logger: Logger,
  queuePrefix: string,
) {
  if (service.precompute) {
    await events.subscribe({
      queue: `${queuePrefix}.precompute`,
      types: ['image.uploaded'],
      handle: async (event) => (event.type === 'image.uploaded' ? service.domain.precompute(event) : 'ack'),
    });
  }
  await events.subscribe({
    queue: `${queuePrefix}.forget`,
    types: ['image.deleted'],
    handle: async (event) => (event.type === 'image.deleted' ? forgetImage(service, event) : 'ack'),
  });
  const prune = () =>
    service.domain.pruneLogs().then(
      (removed) => removed > 0 && logger.info({ removed }, 'prediction logs pruned'),
      (err: unknown) => logger.warn({ err }, 'prediction log pruning failed'),
    );
  void prune();
  const timer = setInterval(prune, 3_600_000);
  timer.unref();
  const stopFollowing = followRollouts(service, logger);
  return () => {
    clearInterval(timer);
    stopFollowing();
  };
}

/** Every replica reads the stored rollout every ROLLOUT_POLL_MS and serves what it says (one poll at a time). */
function followRollouts(service: InferenceService, logger: Logger): () => void {
  let polling = false;
  let lastError: string | undefined;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      await service.runtime.ready;
      await service.rollouts.sync();
      lastError = undefined;
    } catch (err) {
      // Logged when the reason changes, not at every poll; the versions served stay as they are.
      const error = err instanceof Error ? err.message : String(err);
      if (error !== lastError) logger.warn({ err }, 'rollout not followed');
      lastError = error;
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll(), service.rolloutPollMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A deleted image takes its feedback with it, and its verdicts when no other image has its bytes. */
async function forgetImage(service: InferenceService, event: ImageDeleted): Promise<HandlerOutcome> {
  await service.feedback.forget(event);
  return service.domain.forget(event);
}
