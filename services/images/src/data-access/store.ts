import { openStore, type StoreSettings } from '@capcheck/shared';
import type { ImagesStore } from '../domain/ports';
import { createMongoImagesStore } from './mongo/images-store';
import { createSqliteImagesStore } from './sqlite/images-store';
import { imagesSchema } from './sqlite/migrations';

export { createMongoImagesStore, createSqliteImagesStore };

/** The images service's records, where the settings say. */
export const openImagesStore = (settings: StoreSettings): Promise<ImagesStore> =>
  openStore(settings, {
    service: imagesSchema.service,
    sqlite: createSqliteImagesStore,
    mongo: createMongoImagesStore,
  });
