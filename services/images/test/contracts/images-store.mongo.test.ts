import { createConnection } from 'mongoose';
import { newId, type UserId } from '@capcheck/shared';
import { createMongoImagesStore } from '@capcheck/images';
import { image, imagesStoreContract } from './images-store.contract';
import { mongoSuite } from '../../../../test-support/stores';

mongoSuite('images store: MongoDB adapter', (url) => {
  imagesStoreContract(() => createMongoImagesStore(url));
});

mongoSuite('images store: MongoDB adapter, a database from before the reference counts', (url) => {
  test('gets them built from its records on open, once', async () => {
    const shared = image(newId<UserId>());
    const records = [shared, image(newId<UserId>(), { sha256: shared.sha256 }), image(newId<UserId>())];
    const raw = createConnection(url);
    try {
      await raw.asPromise();
      await raw.db!.collection('images').insertMany(records.map(({ id, ...rest }) => ({ _id: id, ...rest }) as never));
    } finally {
      await raw.close();
    }
    const store = await createMongoImagesStore(url);
    try {
      expect(await store.images.referencesTo(shared.sha256)).toBe(2);
      expect(await store.images.referencesTo(records[2]!.sha256)).toBe(1);
      expect(await store.images.deleteOwned(records[1]!.id, records[1]!.ownerId)).toMatchObject({
        lastReference: false,
      });
    } finally {
      await store.close();
    }
    // Opened again, the counts are not rebuilt on top of themselves.
    const reopened = await createMongoImagesStore(url);
    try {
      expect(await reopened.images.referencesTo(shared.sha256)).toBe(1);
    } finally {
      await reopened.close();
    }
  });
});
