import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { CircuitBreaker, decodeLimitsConfigShape, setting } from '@capcheck/shared';
import type { ModelFolders } from './data-access/model-repository';

/** The models that ship with the repository: `<repo>/models`, from src or dist alike. */
export const bundledModelDir = join(__dirname, '..', '..', '..', 'models');

export type InferenceConfig = z.output<z.ZodObject<typeof inferenceConfigShape>>;

export const inferenceConfigShape = {
  MODEL_DIR: z.string().min(1).default(bundledModelDir),
  MODEL_NAME: z
    .string()
    .regex(/^[\w.-]+$/)
    .default('bottle-state'),
  /**
   * Versions written at run time (adaptation), beside the shipped MODEL_DIR: a folder every replica
   * shares. Unset: `<DATA_DIR>/models`.
   */
  ADAPTED_MODEL_DIR: z.string().min(1).optional(),
  /** The version served while no rollout is stored (a stored rollout wins). Unset: the newest shipped version folder whose manifest is not marked "candidate". */
  MODEL_VERSION: z
    .string()
    .regex(/^[\w.-]+$/)
    .optional(),
  INFERENCE_WORKERS: setting.positiveInt(availableParallelism()),
  /** Workers of a candidate version's pool during a shadow or canary rollout. */
  INFERENCE_CANDIDATE_WORKERS: setting.positiveInt(1),
  /** How often each replica reads the stored rollout and follows it. */
  ROLLOUT_POLL_MS: setting.positiveInt(2_000),
  INFERENCE_MAX_BATCH: setting.positiveInt(8),
  INFERENCE_MAX_QUEUE: setting.positiveInt(256),
  /** /readyz reports saturation above this queue depth; unset: 80% of INFERENCE_MAX_QUEUE. */
  INFERENCE_READY_MAX_QUEUE: z.coerce.number().int().min(0).optional(),
  ...decodeLimitsConfigShape,
  PREDICTION_LOG_RETENTION_DAYS: setting.positiveInt(30),
  /** The largest Open Inference Protocol infer request (JSON): a UINT8 [1, 192, 192, 3] tensor is about 0.5 MB. */
  OPEN_INFERENCE_MAX_BODY_BYTES: setting.positiveInt(8 * 1024 * 1024),
  /** Compute predictions when images are uploaded (image.uploaded events), ahead of the first request. */
  INFERENCE_PRECOMPUTE: setting.boolean(true),
  /** Deadline of each call to the images service (inference deployed alone). */
  IMAGES_TIMEOUT_MS: setting.positiveInt(2_000),
  /** Failed calls in a row that open the circuit to images, and how long it then fails fast. */
  IMAGES_BREAKER_FAILURES: setting.positiveInt(5),
  IMAGES_BREAKER_OPEN_MS: setting.positiveInt(5_000),
  /** The consumers' durable queues are `<prefix>.precompute` and `<prefix>.forget`. */
  INFERENCE_QUEUE_PREFIX: z
    .string()
    .regex(/^[\w.-]+$/)
    .default('inference'),
  /** Where the images service answers, for reading images with the caller's token. */
  IMAGES_URL: z.url().default('http://images:8082'),
};

/** The model folders: the shipped one, and the one adaptation writes to (under DATA_DIR unless set). */
export const modelFoldersOf = (config: InferenceConfig & { DATA_DIR: string }): ModelFolders => ({
  shipped: config.MODEL_DIR,
  adapted: config.ADAPTED_MODEL_DIR ?? join(resolve(config.DATA_DIR), 'models'),
});

/** The circuit to the images service, as configured. */
export const imagesBreakerOf = (config: InferenceConfig): CircuitBreaker =>
  new CircuitBreaker({
    name: 'images',
    failureThreshold: config.IMAGES_BREAKER_FAILURES,
    openMs: config.IMAGES_BREAKER_OPEN_MS,
  });
