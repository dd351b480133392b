import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { latestVersion, readModelManifest, type ModelManifest } from '@capcheck/inference';

/** The model repository that ships with capcheck. */
export const bundledModels = join(__dirname, '..', 'models');
export const modelName = 'bottle-state';

/** The newest shipped version: what the service serves when MODEL_VERSION is unset. */
export async function servedModel(): Promise<ModelManifest> {
  return readModelManifest(bundledModels, modelName, await latestVersion(bundledModels, modelName));
}

/** A generated picture with a known label (`closed-1.jpg`, `open-2.jpg`, ...), shipped beside the model. */
export const samplePicture = (file: string) => readFileSync(join(bundledModels, modelName, 'samples', file));
