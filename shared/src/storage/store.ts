import { existsSync } from 'node:fs';
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
  /** The owner: names its SQLite file. */
  service: string;
  sqlite(path: string): S;
  mongo(url: string): Promise<S>;
}

/** The one file every service of a DATA_DIR shared before each had its own. */
const sharedSqliteFile = 'capcheck.sqlite';

/**
 * A service's SQLite file under DATA_DIR: its own, `<service>.sqlite`. A DATA_DIR that already holds
 * the file all services once shared keeps using it (each service has its own tables and schema version
 * in it), so nothing is moved. Own files also spare each connection the others' writes: SQLite empties
 * a connection's page cache whenever another one has written to its file, and every prediction writes
 * a log record (a user lookup cost 22 µs in a shared file against 9 µs in its own).
 */
export function defaultSqlitePath(dataDir: string, service: string): string {
  const shared = join(resolve(dataDir), sharedSqliteFile);
  return existsSync(shared) ? shared : join(resolve(dataDir), `${service}.sqlite`);
}

/** Opens the adapter the settings name: SQLite under DATA_DIR (default) or MongoDB. */
export async function openStore<S>(settings: StoreSettings, adapters: StoreAdapters<S>): Promise<S> {
  if (settings.METADATA_STORE === 'mongo' && settings.MONGO_URL) return adapters.mongo(settings.MONGO_URL);
  return adapters.sqlite(settings.SQLITE_PATH ?? defaultSqlitePath(settings.DATA_DIR, adapters.service));
}
