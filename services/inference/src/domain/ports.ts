import type {
  ApiKeyId,
  BlobStore,
  Caller,
  ImageFormat,
  ImageId,
  Logger,
  Page,
  PageRequest,
  StoreLifecycle,
  UserId,
} from '@capcheck/shared';

/** A model's verdict on some bytes; shared by every image with the same sha256. */
export interface PredictionRecord {
  sha256: string;
  modelName: string;
  modelVersion: string;
  label: string;
  confidence: number;
  /** Probability per label, summing to 1. */
  scores: Record<string, number>;
  createdAt: Date;
}

export interface PredictionRepository {
  find(sha256: string, modelName: string, modelVersion: string): Promise<PredictionRecord | null>;
  /** Inserts, or leaves an existing record for the same key as it is (the verdict is deterministic). */
  save(prediction: PredictionRecord): Promise<void>;
  /** Drops every model's verdicts on these bytes. */
  deleteBySha256(sha256: string): Promise<number>;
}

/** One record per prediction asked for (`GET /predict/:id`, `POST /predict`, each picture of a batch). */
export interface PredictionLogRecord {
  id: string;
  at: Date;
  /** Null for a picture predicted without being stored. */
  imageId: ImageId | null;
  userId: UserId;
  apiKeyId: ApiKeyId | null;
  clientIp: string;
  userAgent: string;
  imageFormat: ImageFormat;
  imageSha256: string;
  label: string;
  confidence: number;
  modelName: string;
  modelVersion: string;
  cached: boolean;
  latencyMs: number;
  /** The candidate's answer during a shadow rollout (written after the response); null otherwise. */
  shadowModelVersion: string | null;
  shadowLabel: string | null;
  shadowConfidence: number | null;
}

/** A shadow candidate's answer to a prediction already logged. */
export interface ShadowAnswer {
  modelVersion: string;
  label: string;
  confidence: number;
}

export interface PredictionLogQuery extends PageRequest {
  from: Date;
  to: Date;
  label?: string | undefined;
}

export interface PredictionLogRepository {
  append(log: PredictionLogRecord): Promise<void>;
  /** Adds the shadow candidate's answer to a logged prediction (no-op for an unknown id). */
  recordShadow(id: string, answer: ShadowAnswer): Promise<void>;
  /** Logs with from <= at < to (and the label, if given), newest first. */
  query(query: PredictionLogQuery): Promise<Page<PredictionLogRecord>>;
  /** Retention: removes logs older than the date; returns how many. */
  deleteOlderThan(date: Date): Promise<number>;
}

/** The served model's verdict on an image, as it stood when its owner said what the image shows. */
export interface FeedbackVerdict {
  label: string;
  confidence: number;
  model: { name: string; version: string };
}

/**
 * What an image's owner says it shows (`PUT /predict/:id/feedback`): one record per image, the last
 * answer wins. It keeps the image's sha256 because adaptation reads the bytes from the blob store.
 */
export interface FeedbackRecord {
  imageId: ImageId;
  userId: UserId;
  sha256: string;
  label: string;
  predicted: FeedbackVerdict;
  /** The first answer for this image. */
  createdAt: Date;
  /** The latest answer for this image. */
  updatedAt: Date;
}

export interface FeedbackQuery extends PageRequest {
  label?: string | undefined;
}

export interface FeedbackRepository {
  /**
   * Stores the answer, replacing any earlier one for the same image (which keeps its createdAt).
   * Returns the record as stored.
   */
  upsert(record: FeedbackRecord): Promise<FeedbackRecord>;
  find(imageId: ImageId): Promise<FeedbackRecord | null>;
  /** Newest answer first (by updatedAt, then imageId), of one label if given. */
  list(query: FeedbackQuery): Promise<Page<FeedbackRecord>>;
  /** The image is gone: so is what its owner said about it. */
  deleteByImageId(imageId: ImageId): Promise<number>;
  /** Every answer, by imageId: the examples adaptation learns from. */
  labelled(): Promise<FeedbackRecord[]>;
}

/**
 * How a candidate version is tried beside the current one: `shadow` answers every prediction off the
 * response path (logged, never shown); `canary` answers `percent` of images (sticky per image).
 */
export type CandidateMode = 'shadow' | 'canary';

export interface RolloutCandidate {
  version: string;
  mode: CandidateMode;
  /** Canary only: the share of images (0–100) the candidate answers; null in shadow mode. */
  percent: number | null;
}

/** Which versions of a model every replica serves: the current one, and a candidate on trial. */
export interface RolloutTarget {
  current: string;
  candidate: RolloutCandidate | null;
}

/** The stored rollout of one model: every replica polls it and follows. */
export interface RolloutRecord extends RolloutTarget {
  modelName: string;
  updatedAt: Date;
  updatedBy: UserId;
}

export interface RolloutRepository {
  find(modelName: string): Promise<RolloutRecord | null>;
  /** Inserts or replaces the model's rollout: the last write wins. */
  save(rollout: RolloutRecord): Promise<void>;
}

export type AdaptationStatus = 'queued' | 'running' | 'succeeded' | 'failed';

/** Accuracy on the held-out labelled pictures: the new head's, and the served model's on the same pictures. */
export interface AdaptationMetrics {
  candidate: { accuracy: number };
  current: { accuracy: number };
}

/** A request to fit a new head on the served model's embedding from the labelled feedback. */
export interface AdaptationRecord {
  id: string;
  modelName: string;
  /** The served version whose backbone (and embedding) the new version keeps. */
  parentVersion: string;
  status: AdaptationStatus;
  requestedBy: UserId;
  createdAt: Date;
  updatedAt: Date;
  /** The new version in the model repository, once succeeded. */
  version: string | null;
  examples: { train: number; heldOut: number } | null;
  metrics: AdaptationMetrics | null;
  error: string | null;
}

export interface AdaptationRepository {
  /**
   * Inserts a queued adaptation, unless one of the same model is queued or running (in any process
   * sharing the store): then false, and nothing is written.
   */
  start(adaptation: AdaptationRecord): Promise<boolean>;
  update(
    id: string,
    changes: Partial<Pick<AdaptationRecord, 'status' | 'version' | 'examples' | 'metrics' | 'error' | 'updatedAt'>>,
  ): Promise<void>;
  find(id: string): Promise<AdaptationRecord | null>;
  /** The newest first. */
  list(modelName: string, limit: number): Promise<AdaptationRecord[]>;
  /** Fails the queued or running adaptations last updated before `before` (their process died); returns how many. */
  abandon(before: Date, error: string): Promise<number>;
}

/** A classification head on the embedding: logits = embedding · weightsᵀ + bias, then softmax. */
export interface AdaptedHead {
  /** Row-major [classes, embedding size]. */
  weights: Float32Array;
  bias: Float32Array;
  classes: number;
}

/** Where a new version came from, recorded in its manifest. */
export interface NewVersionLineage {
  parent: { version: string };
  adaptationId: string;
  requestedBy: UserId;
  createdAt: Date;
  l2: number;
  examples: { train: number; heldOut: number; perLabel: Record<string, number> };
  metrics: AdaptationMetrics;
}

/** Adds versions to the model repository. */
export interface ModelWriter {
  /** Writes the parent with a new head as a complete new version (not served until rolled out); returns its version. */
  writeAdapted(parent: ModelManifest, head: AdaptedHead, lineage: NewVersionLineage): Promise<string>;
}

/** A picture someone labelled, as adaptation reads it. */
export interface LabelledPicture {
  imageId: ImageId;
  sha256: string;
  label: string;
}

/** Everything the inference service keeps. */
export interface InferenceStore extends StoreLifecycle {
  readonly predictions: PredictionRepository;
  readonly predictionLogs: PredictionLogRepository;
  readonly feedback: FeedbackRepository;
  readonly rollouts: RolloutRepository;
  readonly adaptations: AdaptationRepository;
}

export interface DescribedImage {
  imageId: ImageId;
  sha256: string;
  format: ImageFormat;
}

/**
 * How inference learns about an image: always on behalf of the caller, so the images service alone
 * decides ownership. Null means "not found" (unknown, deleted, or someone else's: they are the same).
 */
export interface ImageSource {
  /**
   * What the image is: enough to look up a cached prediction, and the digest its bytes are read by
   * (from the blob store, read only) when there is none. This is the ownership check.
   */
  describe(caller: Caller, id: ImageId): Promise<DescribedImage | null>;
  /**
   * Stores a picture as the caller's upload, through the images service (which validates it and owns
   * the record): `POST /predict?store=true`. Its refusals (415, 413, 422) come back as they are.
   */
  store(caller: Caller, picture: { bytes: Buffer; filename?: string | undefined }): Promise<DescribedImage>;
}

/** What serving knows of a model: its labels, its input, and how it scored on the test set. */
export interface ModelManifest {
  name: string;
  version: string;
  labels: string[];
  inputName: string;
  outputName: string;
  /**
   * A verdict whose (calibrated) confidence is below this is reported `certain: false`: check it by eye.
   * Null for models that predate calibration (v1, v2): their confidences are not calibrated, so no
   * threshold is claimed and every verdict is reported certain, as those versions always were.
   */
  certaintyThreshold: number | null;
  /** The graph's second output, the penultimate features (for adapting the model), where it has one. */
  embedding: { name: string; size: number } | null;
  /** Height, width, channels of one input image. */
  inputShape: [number, number, 3];
  resize: {
    width: number;
    height: number;
    fit: 'contain' | 'cover' | 'fill';
    background: [number, number, number];
    /**
     * How pictures become the input: `sharp-lanczos3` (v1 to v3: sharp decodes and resizes with Lanczos3)
     * or `jpeg-scaled-area` (libjpeg-turbo decodes a JPEG already shrunk in the DCT, then an area-filter
     * letterbox; `contain` only). Two recipes give different pixels, so a recipe belongs to a model version.
     */
    recipe: ResizeRecipe;
  };
  testMetrics: Record<string, unknown>;
  /** Absolute path of the ONNX file, checked against the manifest's sha256. */
  modelPath: string;
}

export type ResizeRecipe = 'sharp-lanczos3' | 'jpeg-scaled-area';

/** Where the model is: still loading, serving (on so many workers), or broken. */
export type ModelState =
  { state: 'loading' } | { state: 'ready'; manifest: ModelManifest; workers: number } | { state: 'failed' };

/** The model as serving sees it: what it is, and how to run it. */
export interface LoadedModel {
  manifest: ModelManifest;
  /** Class probabilities (in `manifest.labels` order) for one image's bytes. */
  classify(bytes: Buffer): Promise<Float32Array>;
  /**
   * As classify, for several pictures that share `session.run` calls where they can; each promise
   * settles on its own (a picture that cannot be decoded is its own 422).
   */
  classifyEach(pictures: readonly Buffer[]): Promise<Float32Array>[];
  /** A picture's bytes as the model's input (H×W×3), exactly as the manifest prescribes. */
  preprocess(bytes: Buffer): Promise<Uint8Array>;
  /** Class probabilities for model inputs, in order, sharing `session.run` calls where they can. */
  run(images: readonly Uint8Array[]): Promise<Float32Array[]>;
  /**
   * As `run`, with each input's embedding too (null when the model has no such output). Background
   * work yields to predictions (within a bound).
   */
  outputsOf(images: readonly Uint8Array[], options?: { background?: boolean }): Promise<ModelOutputs[]>;
}

/** One image's outputs: its class probabilities, and its penultimate features where the model has them. */
export interface ModelOutputs {
  scores: Float32Array;
  embedding: Float32Array | null;
}

/** A candidate version, loaded, and how it is tried. */
export interface CandidateModel {
  model: LoadedModel;
  mode: CandidateMode;
  percent: number | null;
}

/** The model may be loading, loaded, or broken; serving asks at each request. */
export interface ModelProvider {
  /** The loaded current version, or an `unavailable` AppError naming why not. */
  current(): LoadedModel;
  /** The candidate on trial, once loaded; null when there is none. */
  candidate(): CandidateModel | null;
  state(): ModelState;
  /** The versions being served (null while the first one loads). */
  target(): RolloutTarget | null;
}

/**
 * The model versions a rollout may name, and the runtime that serves them: what the rollouts domain
 * needs of the model repository and of the runtime.
 */
export interface ModelVersions {
  readonly name: string;
  /** Whether a version folder exists (it may still fail to load). */
  exists(version: string): boolean;
  /** Loads what the target needs; an `unprocessable` AppError with the reason when a version does not load. */
  prepare(target: RolloutTarget): Promise<void>;
  /** Serves the target (loading what it needs), then closes versions no longer needed. */
  follow(target: RolloutTarget): Promise<void>;
  /** The versions being served (null while the first one loads). */
  target(): RolloutTarget | null;
}

export interface InferenceTelemetry {
  cache(result: 'hit' | 'miss'): void;
  prediction(verdict: { label: string; model: string; confidence: number; certain: boolean; cached: boolean }): void;
  inference(seconds: number): void;
  /** A shadow candidate's answer, compared with the current version's. */
  shadow(answer: { modelVersion: string; agreed: boolean }): void;
}

/** Answers the owners give (`capcheck_feedback_total`), with whether the served model agreed. */
export interface FeedbackTelemetry {
  feedback(answer: { label: string; agreed: boolean; modelVersion: string }): void;
}

/** What the predictions domain works with. */
export interface PredictionsDomainDeps {
  imageSource: ImageSource;
  /** Read-only: event consumers fetch bytes by sha256 (no caller to act for). */
  blobs: BlobStore;
  predictions: PredictionRepository;
  logs: PredictionLogRepository;
  model: ModelProvider;
  telemetry: InferenceTelemetry;
  logger: Logger;
  clock: { now(): Date };
  logRetentionDays: number;
}
