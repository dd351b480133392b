import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteMetadataStore, newId, type Email, type UserId } from '@capcheck/shared';
import { metadataContract } from './metadata.contract';

describe('metadata port: SQLite adapter', () => {
  metadataContract(async () =>
    createSqliteMetadataStore(join(mkdtempSync(join(tmpdir(), 'capcheck-sqlite-')), 'meta.sqlite')),
  );
});

test('SQLite: reopening a file keeps its data and does not re-run migrations', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'capcheck-sqlite-')), 'meta.sqlite');
  const first = createSqliteMetadataStore(path);
  const id = newId<UserId>();
  const now = new Date();
  await first.users.create({
    id,
    email: 'keep@example.test' as Email,
    passwordHash: 'h',
    role: 'user',
    disabled: false,
    createdAt: now,
    updatedAt: now,
  });
  await first.close();
  const second = createSqliteMetadataStore(path);
  expect((await second.users.findById(id))?.email).toBe('keep@example.test');
  await second.close();
});
