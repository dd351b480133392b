import { join, resolve } from 'node:path';

/** What every store adds to its repositories: readiness and shutdown. */
export interface StoreLifecycle {
  /** Resolves when the store answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The settings that choose where a service keeps its records (validated with the common config). */
export interface StoreSettings {
  DATA_DIR: string;
  METADATA_STORE: 'sqlite' | 'mongo';
  SQLITE_PATH?: string | undefined;
  MONGO_URL?: string | undefined;
}

/** A service's two ways to keep its records. */
export interface StoreAdapters<S> {
  sqlite(path: string): S;
  mongo(url: string): Promise<S>;
}

/** The file every service of one DATA_DIR shares, each with its own tables and schema version. */
export const defaultSqlitePath = (dataDir: string): string => join(resolve(dataDir), 'capcheck.sqlite');

/** Opens the adapter the settings name: SQLite under DATA_DIR (default) or MongoDB. */
export async function openStore<S>(settings: StoreSettings, adapters: StoreAdapters<S>): Promise<S> {
  if (settings.METADATA_STORE === 'mongo' && settings.MONGO_URL) return adapters.mongo(settings.MONGO_URL);
  return adapters.sqlite(settings.SQLITE_PATH ?? defaultSqlitePath(settings.DATA_DIR));
}
