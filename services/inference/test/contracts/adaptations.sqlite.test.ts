import { createSqliteInferenceStore } from '@capcheck/inference';
import { adaptationRepositoryContract } from './adaptations.contract';
import { tempSqlitePath } from '../../../../test-support/stores';

describe('adaptation repository: SQLite adapter', () => {
  adaptationRepositoryContract(async () => createSqliteInferenceStore(tempSqlitePath()));
});
