import { createHash, randomBytes } from 'node:crypto';
import { type BlobKey, type BlobStore, blobKeyForSha256 } from '@capcheck/shared';

/** Random bytes under their own content address, so every test works on a blob no other test touches. */
export function randomBlob(size = 1024): { key: BlobKey; bytes: Buffer } {
  const bytes = randomBytes(size);
  return { key: blobKeyForSha256(createHash('sha256').update(bytes).digest('hex')), bytes };
}

const badKeys = ['../etc/passwd', 'sha256/../../x', 'sha256/ABC'];

export function blobStoreContract(open: () => Promise<BlobStore>): void {
  let store: BlobStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(() => store?.close());

  test('ping answers', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  test('put then get gives back the same bytes', async () => {
    const { key, bytes } = randomBlob(4096);
    await store.put(key, bytes, 'image/jpeg');
    const got = await store.get(key);
    expect(Buffer.isBuffer(got)).toBe(true);
    expect(got!.equals(bytes)).toBe(true);
  });

  test('a 1 MB blob round-trips byte for byte', async () => {
    const { key, bytes } = randomBlob(1024 * 1024);
    await store.put(key, bytes, 'application/octet-stream');
    const got = await store.get(key);
    expect(got?.length).toBe(bytes.length);
    expect(got!.equals(bytes)).toBe(true);
  });

  test('an empty blob round-trips', async () => {
    const { key, bytes } = randomBlob(0);
    await store.put(key, bytes, 'application/octet-stream');
    const got = await store.get(key);
    expect(got?.length).toBe(0);
  });

  test('exists is true for a stored blob and false for a missing one', async () => {
    const stored = randomBlob();
    const missing = randomBlob();
    await store.put(stored.key, stored.bytes, 'image/png');
    expect(await store.exists(stored.key)).toBe(true);
    expect(await store.exists(missing.key)).toBe(false);
  });

  test('get of a missing key is null', async () => {
    expect(await store.get(randomBlob().key)).toBeNull();
  });

  test('delete removes the blob', async () => {
    const { key, bytes } = randomBlob();
    await store.put(key, bytes, 'image/png');
    await store.delete(key);
    expect(await store.get(key)).toBeNull();
    expect(await store.exists(key)).toBe(false);
  });

  test('delete of a missing key is not an error', async () => {
    await expect(store.delete(randomBlob().key)).resolves.toBeUndefined();
  });

  test('put of the same key twice is harmless', async () => {
    const { key, bytes } = randomBlob();
    await store.put(key, bytes, 'image/png');
    await store.put(key, Buffer.from(bytes), 'image/png');
    expect((await store.get(key))!.equals(bytes)).toBe(true);
  });

  test('a blob can be stored again after it was deleted', async () => {
    const { key, bytes } = randomBlob();
    await store.put(key, bytes, 'image/png');
    await store.delete(key);
    await store.put(key, bytes, 'image/png');
    expect((await store.get(key))!.equals(bytes)).toBe(true);
  });

  test('10 parallel puts of the same key leave one readable, correct blob', async () => {
    const { key, bytes } = randomBlob(256 * 1024);
    await Promise.all(Array.from({ length: 10 }, () => store.put(key, Buffer.from(bytes), 'image/jpeg')));
    expect((await store.get(key))!.equals(bytes)).toBe(true);
    expect(await store.exists(key)).toBe(true);
  });

  test('list names every stored blob once, with when it was written, and not a deleted one', async () => {
    const kept = [randomBlob(), randomBlob()];
    const gone = randomBlob();
    const before = Date.now();
    for (const { key, bytes } of [...kept, gone]) await store.put(key, bytes, 'image/png');
    await store.delete(gone.key);
    const listed = new Map<string, Date>();
    for await (const { key, modifiedAt } of store.list()) {
      expect(listed.has(key)).toBe(false);
      listed.set(key, modifiedAt);
    }
    for (const { key } of kept) {
      // Some stores keep whole seconds; a minute covers clocks and rounding either way.
      expect(Math.abs(listed.get(key)!.getTime() - before)).toBeLessThan(60_000);
    }
    expect(listed.has(gone.key)).toBe(false);
  });

  test.each(badKeys)('a key that is not a BlobKey is refused: %j', async (bad) => {
    const key = bad as BlobKey;
    await expect(store.put(key, Buffer.from('x'), 'text/plain')).rejects.toThrow(Error);
    await expect(store.get(key)).rejects.toThrow(Error);
    await expect(store.exists(key)).rejects.toThrow(Error);
    await expect(store.delete(key)).rejects.toThrow(Error);
  });

  test('keys close to valid are refused too (no upper case, no extra segments, no other algorithm)', async () => {
    const hex = randomBlob().key.slice('sha256/'.length);
    for (const bad of [hex, `sha256/${hex.toUpperCase()}`, `sha256/${hex}/x`, `sha1/${hex}`, `/sha256/${hex}`]) {
      await expect(store.get(bad as never)).rejects.toThrow(Error);
    }
  });
}
