import { createSqliteUsersStore } from '@capcheck/users';
import { usersStoreContract } from './users-store.contract';
import { tempSqlitePath } from '../../../../test-support/stores';

describe('users store: SQLite adapter', () => {
  usersStoreContract(async () => createSqliteUsersStore(tempSqlitePath()));
});
