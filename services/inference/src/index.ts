export * from './app';
export * from './module';
export * from './config';
export { ModelRuntime } from './data-access/model-runtime';
export {
  latestVersion,
  listVersions,
  nextVersion,
  readModelManifest,
  readVersionManifest,
  ModelLoadError,
  type ModelFolders,
} from './data-access/model-repository';
export { RolloutsDomain, type RolloutRequest, type RolloutView } from './domain/rollouts';
export { canaryBucket } from './domain/predictions';
export { createInferencePool } from './data-access/inference-pool';
export { preprocess } from './data-access/preprocess';
export { PredictionsDomain } from './domain/predictions';
export { FeedbackDomain } from './domain/feedback';
export { httpImageSource } from './data-access/image-source-http';
export * from './data-access/store';
export * from './domain/ports';
export { inferenceSchema } from './data-access/sqlite/migrations';
export { fitLinearHead, headProbability, type LinearHead, type HeadTrainingSet } from './domain/linear-head';
export { withNewHead, OnnxEditError } from './data-access/onnx-head';
