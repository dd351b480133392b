import type {
  BlobStore,
  ImageRepository,
  ImageSource,
  Logger,
  PredictionLogRepository,
  PredictionRepository,
} from '@capcheck/shared';
import type { ModelManifest } from '../data-access/model-repository';

/** The model as serving sees it: what it is, and how to run it. */
export interface LoadedModel {
  manifest: ModelManifest;
  /** Class probabilities (in `manifest.labels` order) for one image's bytes. */
  classify(bytes: Buffer): Promise<Float32Array>;
}

/** The model may be loading, loaded, or broken; serving asks at each request. */
export interface ModelProvider {
  /** The loaded model, or an `unavailable` AppError naming why not. */
  current(): LoadedModel;
}

export interface InferenceTelemetry {
  cache(result: 'hit' | 'miss'): void;
  prediction(label: string, model: string, confidence: number, cached: boolean): void;
  inference(seconds: number): void;
}

export interface InferenceDeps {
  imageSource: ImageSource;
  /** Read-only: event consumers fetch bytes by sha256 (no caller to act for). */
  blobs: BlobStore;
  images: Pick<ImageRepository, 'countBySha256'>;
  predictions: PredictionRepository;
  logs: PredictionLogRepository;
  model: ModelProvider;
  telemetry: InferenceTelemetry;
  logger: Logger;
  clock: { now(): Date };
  logRetentionDays: number;
}
