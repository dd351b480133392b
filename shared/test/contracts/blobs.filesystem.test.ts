import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFilesystemBlobStore } from '@capcheck/shared';
import { blobStoreContract, randomBlob } from './blobs.contract';

/** Every file under dir, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('blob store port: filesystem adapter', () => {
  let temp: string;
  beforeAll(async () => {
    temp = await mkdtemp(join(tmpdir(), 'capcheck-blobs-'));
  });

  // The root does not exist yet: the adapter creates it.
  blobStoreContract(() => createFilesystemBlobStore(join(temp, 'contract', 'blobs')));

  describe('on disk', () => {
    let root: string;
    beforeAll(() => {
      root = join(temp, 'disk', 'blobs');
    });

    test('creates the root, private to the owner', async () => {
      await createFilesystemBlobStore(root);
      expect((await stat(root)).mode & 0o777).toBe(0o700);
    });

    test('lays blobs out as sha256/ab/cd/<hex>, files mode 0600', async () => {
      const store = await createFilesystemBlobStore(root);
      const { key, bytes } = randomBlob();
      await store.put(key, bytes, 'image/png');
      const hex = key.slice('sha256/'.length);
      const file = join(root, 'sha256', hex.slice(0, 2), hex.slice(2, 4), hex);
      const info = await stat(file);
      expect(info.isFile()).toBe(true);
      expect(info.size).toBe(bytes.length);
      expect(info.mode & 0o777).toBe(0o600);
      expect((await stat(join(root, 'sha256', hex.slice(0, 2)))).mode & 0o777).toBe(0o700);
    });

    test('leaves no .tmp files behind, even after parallel puts of one key', async () => {
      const store = await createFilesystemBlobStore(root);
      const blobs = Array.from({ length: 5 }, () => randomBlob(64 * 1024));
      await Promise.all(blobs.map((b) => store.put(b.key, b.bytes, 'image/jpeg')));
      const same = randomBlob(64 * 1024);
      await Promise.all(Array.from({ length: 10 }, () => store.put(same.key, same.bytes, 'image/jpeg')));
      const files = await filesUnder(root);
      expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
      for (const f of files) expect((await stat(f)).mode & 0o777).toBe(0o600);
      for (const b of [...blobs, same]) expect((await store.get(b.key))!.equals(b.bytes)).toBe(true);
    });

    test('a refused key writes nothing outside (or inside) the root', async () => {
      const store = await createFilesystemBlobStore(root);
      const before = await filesUnder(temp);
      await expect(store.put('sha256/../../escaped' as never, Buffer.from('x'), 'text/plain')).rejects.toThrow();
      expect(await filesUnder(temp)).toEqual(before);
    });

    test('ping fails when the root is gone', async () => {
      const gone = join(temp, 'gone');
      const store = await createFilesystemBlobStore(gone);
      await rm(gone, { recursive: true });
      await expect(store.ping()).rejects.toThrow();
    });
  });

  afterAll(async () => {
    await rm(temp, { recursive: true, force: true });
  });
});
