import { createSqliteImagesStore } from '@capcheck/images';
import { imagesStoreContract } from './images-store.contract';
import { tempSqlitePath } from '../../../../test-support/stores';

describe('images store: SQLite adapter', () => {
  imagesStoreContract(async () => createSqliteImagesStore(tempSqlitePath()));
});
