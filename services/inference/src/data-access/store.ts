import { openStore, type StoreSettings } from '@capcheck/shared';
import type { InferenceStore } from '../domain/ports';
import { createMongoInferenceStore } from './mongo/inference-store';
import { createSqliteInferenceStore } from './sqlite/inference-store';
import { inferenceSchema } from './sqlite/migrations';

export { createMongoInferenceStore, createSqliteInferenceStore };

/** The inference service's records, where the settings say. */
export const openInferenceStore = (settings: StoreSettings): Promise<InferenceStore> =>
  openStore(settings, {
    service: inferenceSchema.service,
    sqlite: createSqliteInferenceStore,
    mongo: createMongoInferenceStore,
  });
