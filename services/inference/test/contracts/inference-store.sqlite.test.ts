import { createSqliteInferenceStore } from '@capcheck/inference';
import { inferenceStoreContract } from './inference-store.contract';
import { tempSqlitePath } from '../../../../test-support/stores';

describe('inference store: SQLite adapter', () => {
  inferenceStoreContract(async () => createSqliteInferenceStore(tempSqlitePath()));
});
