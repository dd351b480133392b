import { createMongoUsersStore } from '@capcheck/users';
import { usersStoreContract } from './users-store.contract';
import { mongoSuite } from '../../../../test-support/stores';

mongoSuite('users store: MongoDB adapter', (url) => {
  usersStoreContract(() => createMongoUsersStore(url));
});
