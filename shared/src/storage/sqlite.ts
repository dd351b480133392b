import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { StoreLifecycle } from './store';

export type SqliteDatabase = Database.Database;

/** What the repositories need of a database: a compiled statement for a SQL text, and transactions. */
export interface StatementSource {
  prepare(sql: string): Database.Statement;
  transaction: SqliteDatabase['transaction'];
}

/**
 * Each SQL text compiled once and reused: compiling cost more than running the small statements a
 * request makes (12 % of a cached prediction's CPU time in a profile). The texts are constants or a
 * few combinations of optional filters, so the cache stays small.
 */
export function cachedStatements(db: SqliteDatabase): StatementSource {
  const statements = new Map<string, Database.Statement>();
  return {
    transaction: (fn) => db.transaction(fn),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (!statement) {
        statement = db.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

/** One service's schema: its steps, applied in order. Append; never edit a shipped step. */
export interface SqliteSchema {
  /** The owner; its version is tracked apart from every other service's in the same file. */
  service: string;
  migrations: readonly string[];
  /**
   * Files written before each service tracked its own schema held every service's tables under one
   * `user_version`. From that value on, this service's first step is already in the file.
   */
  legacyUserVersion?: number;
}

/**
 * Opens (creating if needed) a SQLite file and brings one service's schema up to date. Several
 * services may share a file (the local process does): each tracks its own version in
 * `schema_migrations` and never touches another's tables. `:memory:` works too.
 */
export function openSqlite(path: string, schema: SqliteSchema): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  try {
    migrate(db, schema);
  } catch (err) {
    db.close();
    throw new Error(`the ${schema.service} schema in ${path} could not be brought up to date`, { cause: err });
  }
  return db;
}

function migrate(db: SqliteDatabase, { service, migrations, legacyUserVersion }: SqliteSchema): void {
  // IMMEDIATE: two processes opening the same file at once apply each step only once.
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (service TEXT PRIMARY KEY, version INTEGER NOT NULL)');
    const row = db.prepare('SELECT version FROM schema_migrations WHERE service = ?').get(service) as
      { version: number } | undefined;
    let version = row?.version;
    if (version === undefined) {
      const userVersion = db.pragma('user_version', { simple: true }) as number;
      version = legacyUserVersion !== undefined && userVersion >= legacyUserVersion ? 1 : 0;
    }
    for (const [index, sql] of migrations.entries()) {
      if (index < version) continue;
      db.exec(sql);
      version = index + 1;
    }
    db.prepare(
      'INSERT INTO schema_migrations (service, version) VALUES (?, ?) ON CONFLICT (service) DO UPDATE SET version = excluded.version',
    ).run(service, version);
  }).immediate();
}

export const isUniqueViolation = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';

/** A store on its own connection to a SQLite file: `build` makes the service's repositories on it. */
export function openSqliteStore<T extends object>(
  path: string,
  schema: SqliteSchema,
  build: (statements: StatementSource) => T,
): T & StoreLifecycle {
  const db = openSqlite(path, schema);
  const statements = cachedStatements(db);
  return {
    ...build(statements),
    async ping() {
      statements.prepare('SELECT 1').get();
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
