import { newId, openSqlite, type UserId } from '@capcheck/shared';
import { createSqliteImagesStore, imagesSchema } from '@capcheck/images';
import { image, imagesStoreContract } from './images-store.contract';
import { tempSqlitePath } from '../../../../test-support/stores';

describe('images store: SQLite adapter', () => {
  imagesStoreContract(async () => createSqliteImagesStore(tempSqlitePath()));
});

test('a file from before the reference counts gets them built from its records on open', async () => {
  const path = tempSqlitePath();
  const before = openSqlite(path, { ...imagesSchema, migrations: imagesSchema.migrations.slice(0, 1) });
  const shared = image(newId<UserId>());
  const records = [shared, image(newId<UserId>(), { sha256: shared.sha256 }), image(newId<UserId>())];
  for (const r of records)
    before
      .prepare('INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(r.id, r.ownerId, r.filename, r.format, r.width, r.height, r.sizeBytes, r.sha256, r.objectKey, 0);
  before.close();

  const store = createSqliteImagesStore(path);
  try {
    expect(await store.images.referencesTo(shared.sha256)).toBe(2);
    expect(await store.images.referencesTo(records[2]!.sha256)).toBe(1);
    // The counts work on from there: the twin's delete is not the last reference, the other's is.
    expect(await store.images.deleteOwned(records[1]!.id, records[1]!.ownerId)).toMatchObject({ lastReference: false });
    expect(await store.images.deleteOwned(shared.id, shared.ownerId)).toMatchObject({ lastReference: true });
  } finally {
    await store.close();
  }
});
