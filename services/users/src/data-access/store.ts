import { openStore, type StoreSettings } from '@capcheck/shared';
import type { UsersStore } from '../domain/ports';
import { createMongoUsersStore } from './mongo/users-store';
import { createSqliteUsersStore } from './sqlite/users-store';
import { usersSchema } from './sqlite/migrations';

export { createMongoUsersStore, createSqliteUsersStore };

/** The users service's records, where the settings say. */
export const openUsersStore = (settings: StoreSettings): Promise<UsersStore> =>
  openStore(settings, { service: usersSchema.service, sqlite: createSqliteUsersStore, mongo: createMongoUsersStore });
