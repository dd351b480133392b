import Database from 'better-sqlite3';
import { openSqlite, type SqliteSchema } from '@capcheck/shared';
import { tempSqlitePath } from '../../test-support/stores';

const notes: SqliteSchema = {
  service: 'notes',
  migrations: ['CREATE TABLE notes (id TEXT PRIMARY KEY)', 'ALTER TABLE notes ADD COLUMN body TEXT'],
};
const tags: SqliteSchema = { service: 'tags', migrations: ['CREATE TABLE tags (id TEXT PRIMARY KEY)'] };

const versions = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT service, version FROM schema_migrations ORDER BY service').all();
  } finally {
    db.close();
  }
};

test('reopening a file keeps its data and does not re-run steps', () => {
  const path = tempSqlitePath();
  const first = openSqlite(path, notes);
  first.prepare("INSERT INTO notes (id, body) VALUES ('a', 'kept')").run();
  first.close();
  const second = openSqlite(path, notes);
  expect(second.prepare('SELECT body FROM notes').all()).toEqual([{ body: 'kept' }]);
  second.close();
  expect(versions(path)).toEqual([{ service: 'notes', version: 2 }]);
});

test('services sharing a file each track their own version; a new step runs for its service alone', () => {
  const path = tempSqlitePath();
  openSqlite(path, { ...notes, migrations: notes.migrations.slice(0, 1) }).close();
  openSqlite(path, tags).close();
  expect(versions(path)).toEqual([
    { service: 'notes', version: 1 },
    { service: 'tags', version: 1 },
  ]);
  const db = openSqlite(path, notes);
  db.prepare("INSERT INTO notes (id, body) VALUES ('a', 'new column')").run();
  db.close();
  expect(versions(path)).toEqual([
    { service: 'notes', version: 2 },
    { service: 'tags', version: 1 },
  ]);
});

test('a file from before per-service tracking: steps already in it (by user_version) are not re-run', () => {
  const path = tempSqlitePath();
  const legacy = new Database(path);
  legacy.exec("CREATE TABLE notes (id TEXT PRIMARY KEY); INSERT INTO notes (id) VALUES ('old')");
  legacy.pragma('user_version = 1');
  legacy.close();
  const db = openSqlite(path, { ...notes, legacyUserVersion: 1 });
  expect(db.prepare('SELECT id, body FROM notes').all()).toEqual([{ id: 'old', body: null }]);
  db.close();
  // A service whose first step came later in the old list (user_version 2) has it created now.
  openSqlite(path, { ...tags, legacyUserVersion: 2 }).close();
  expect(versions(path)).toEqual([
    { service: 'notes', version: 2 },
    { service: 'tags', version: 1 },
  ]);
});

test('a step that fails leaves the file as it was and names the service', () => {
  const path = tempSqlitePath();
  openSqlite(path, notes).close();
  expect(() => openSqlite(path, { ...notes, migrations: [...notes.migrations, 'NOT SQL'] })).toThrow(
    /the notes schema in .* could not be brought up to date/,
  );
  expect(versions(path)).toEqual([{ service: 'notes', version: 2 }]);
});
