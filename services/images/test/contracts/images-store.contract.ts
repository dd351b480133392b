import { randomUUID } from 'node:crypto';
import { newId, type ImageId, type UserId } from '@capcheck/shared';
import type { ImageRecord, ImagesStore } from '@capcheck/images';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
export const image = (ownerId: UserId, overrides: Partial<ImageRecord> = {}): ImageRecord => {
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
      expect(await store.images.deleteOwned(img.id, owner)).toEqual({ record: img, lastReference: true });
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

  describe('reference counts of the bytes', () => {
    test('the first record of some bytes raises the count from 0; the last one deleted brings it back to 0', async () => {
      const first = image(newId<UserId>());
      const twin = image(newId<UserId>(), { sha256: first.sha256, objectKey: first.objectKey });
      expect(await store.images.referencesTo(first.sha256)).toBe(0);
      expect(await store.images.create(first)).toEqual({ firstReference: true });
      expect(await store.images.create(twin)).toEqual({ firstReference: false });
      expect(await store.images.referencesTo(first.sha256)).toBe(2);
      expect(await store.images.deleteOwned(first.id, first.ownerId)).toEqual({ record: first, lastReference: false });
      expect(await store.images.referencesTo(first.sha256)).toBe(1);
      expect(await store.images.deleteOwned(twin.id, twin.ownerId)).toEqual({ record: twin, lastReference: true });
      expect(await store.images.referencesTo(first.sha256)).toBe(0);
      // Bytes whose last record went are new again for the next upload of them.
      const again = image(newId<UserId>(), { sha256: first.sha256, objectKey: first.objectKey });
      expect(await store.images.create(again)).toEqual({ firstReference: true });
      expect(await store.images.referencesTo(first.sha256)).toBe(1);
    });

    test("a delete that finds nothing (unknown id, someone else's) leaves the count alone", async () => {
      const img = image(newId<UserId>());
      await store.images.create(img);
      expect(await store.images.deleteOwned(img.id, newId<UserId>())).toBeNull();
      expect(await store.images.deleteOwned(newId<ImageId>(), img.ownerId)).toBeNull();
      expect(await store.images.referencesTo(img.sha256)).toBe(1);
    });

    test('a record that cannot be written (its id is taken) adds no reference', async () => {
      const img = image(newId<UserId>());
      await store.images.create(img);
      const clash = image(newId<UserId>(), { id: img.id, sha256: image(img.ownerId).sha256 });
      // Not rejects.toThrow(): the driver's error may come from another realm than the test's Error.
      const refused = await store.images.create(clash).then(
        () => false,
        () => true,
      );
      expect(refused).toBe(true);
      expect(await store.images.referencesTo(clash.sha256)).toBe(0);
      expect(await store.images.referencesTo(img.sha256)).toBe(1);
    });

    test('creates and deletes of the same bytes at once keep the count equal to the records', async () => {
      const sha = image(newId<UserId>());
      const twins = Array.from({ length: 40 }, () =>
        image(newId<UserId>(), { sha256: sha.sha256, objectKey: sha.objectKey }),
      );
      for (const twin of twins.slice(0, 20)) await store.images.create(twin);
      const results = await Promise.all([
        ...twins.slice(0, 20).map((t) => store.images.deleteOwned(t.id, t.ownerId)),
        ...twins.slice(20).map((t) => store.images.create(t)),
      ]);
      expect(results.every((r) => r !== null)).toBe(true);
      expect(await store.images.countBySha256(sha.sha256)).toBe(20);
      expect(await store.images.referencesTo(sha.sha256)).toBe(20);
    });

    test('referencedSha256s names every bytes some record points at, each once, and not those of deleted records', async () => {
      const kept = image(newId<UserId>());
      const twin = image(newId<UserId>(), { sha256: kept.sha256, objectKey: kept.objectKey });
      const gone = image(newId<UserId>());
      for (const img of [kept, twin, gone]) await store.images.create(img);
      await store.images.deleteOwned(gone.id, gone.ownerId);
      const seen: string[] = [];
      for await (const sha256 of store.images.referencedSha256s()) seen.push(sha256);
      expect(seen.filter((s) => s === kept.sha256)).toHaveLength(1);
      expect(seen).not.toContain(gone.sha256);
      expect(new Set(seen).size).toBe(seen.length);
    });
  });
}
