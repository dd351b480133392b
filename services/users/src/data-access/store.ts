import { openStore, type StoreSettings } from '@capcheck/shared';
import type { UsersStore } from '../domain/ports';
import { createMongoUsersStore } from './mongo/users-store';
import { createSqliteUsersStore } from './sqlite/users-store';

export { createMongoUsersStore, createSqliteUsersStore };

/** The users service's records, where the settings say. */
export const openUsersStore = (settings: StoreSettings): Promise<UsersStore> =>
  openStore(settings, { sqlite: createSqliteUsersStore, mongo: createMongoUsersStore });
