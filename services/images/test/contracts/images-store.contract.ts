import { randomUUID } from 'node:crypto';
import { newId, type ImageId, type UserId } from '@capcheck/shared';
import type { ImageRecord, ImagesStore } from '@capcheck/images';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
const image = (ownerId: UserId, overrides: Partial<ImageRecord> = {}): ImageRecord => {
  const sha256 = randomUUID().replace(/-/g, '').repeat(2);
  return {
    id: newId<ImageId>(),
    ownerId,
    filename: 'bottle.jpg',
    format: 'jpeg',
    width: 640,
    height: 480,
    sizeBytes: 12345,
    sha256,
    objectKey: `sha256/${sha256}`,
    createdAt: at(0),
    ...overrides,
  };
};

/** What every adapter of the images store must do. Each test makes its own records; the store may be shared. */
export function imagesStoreContract(open: () => Promise<ImagesStore>): void {
  let store: ImagesStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(() => store?.close());

  test('ping answers', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  describe('images', () => {
    test('create then find by the owner, fields intact; another owner finds nothing', async () => {
      const owner = newId<UserId>();
      const img = image(owner, { format: 'webp', width: 1, height: 2, createdAt: at(42) });
      await store.images.create(img);
      expect(await store.images.findOwned(img.id, owner)).toEqual(img);
      expect(await store.images.findOwned(img.id, newId<UserId>())).toBeNull();
      expect(await store.images.findOwned(newId<ImageId>(), owner)).toBeNull();
    });

    test("list pages through the owner's images newest first, each once, and nobody else's", async () => {
      const owner = newId<UserId>();
      const mine = [5, 3, 3, 1, 0].map((offset) => image(owner, { createdAt: at(offset) }));
      for (const img of mine) await store.images.create(img);
      await store.images.create(image(newId<UserId>(), { createdAt: at(4) }));
      const seen: ImageRecord[] = [];
      let cursor: string | undefined;
      for (let guard = 0; guard < 100; guard++) {
        const page = await store.images.listOwned(owner, { limit: 2, cursor });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      const expected = [...mine].sort(
        (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id.localeCompare(a.id),
      );
      expect(seen.map((i) => i.id)).toEqual(expected.map((i) => i.id));
    });

    test('an owner with no images gets an empty last page', async () => {
      expect(await store.images.listOwned(newId<UserId>(), { limit: 10 })).toEqual({ items: [], nextCursor: null });
    });

    test("deleteOwned removes only the owner's record and returns it once", async () => {
      const owner = newId<UserId>();
      const img = image(owner);
      await store.images.create(img);
      expect(await store.images.deleteOwned(img.id, newId<UserId>())).toBeNull();
      expect(await store.images.deleteOwned(img.id, owner)).toEqual(img);
      expect(await store.images.deleteOwned(img.id, owner)).toBeNull();
      expect(await store.images.findOwned(img.id, owner)).toBeNull();
    });

    test('countBySha256 counts records of every owner that share the bytes', async () => {
      const shared = image(newId<UserId>());
      const twin = image(newId<UserId>(), { sha256: shared.sha256, objectKey: shared.objectKey });
      expect(await store.images.countBySha256(shared.sha256)).toBe(0);
      await store.images.create(shared);
      await store.images.create(twin);
      expect(await store.images.countBySha256(shared.sha256)).toBe(2);
      await store.images.deleteOwned(twin.id, twin.ownerId);
      expect(await store.images.countBySha256(shared.sha256)).toBe(1);
    });
  });
}
