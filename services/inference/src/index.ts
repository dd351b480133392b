export * from './app';
export * from './config';
export { inferencePathPrefixes } from './entry-points/http/routes';
export { ModelRuntime } from './data-access/model-runtime';
export { latestVersion, readModelManifest, ModelLoadError, type ModelManifest } from './data-access/model-repository';
export { createInferencePool } from './data-access/inference-pool';
export { preprocess } from './data-access/preprocess';
export { PredictionsDomain } from './domain/predictions';
