import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFile, readSync } from 'node:fs';
import { access, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { type BlobKey, type BlobStore, type StoredBlob, isBlobKey } from '../../ports/blobs';

/**
 * The callback readFile, promisified: Node 20's fs/promises readFile spent 110-180 µs of CPU on a 27 KB
 * picture against 60-80 µs for this one (more trips through the thread pool).
 */
const readWhole = promisify(readFile);

/**
 * Files up to this size are read on the event loop. A camera picture (tens of KB, just written, so in
 * the page cache) costs ~15 µs that way, against four hand-offs to libuv's thread pool and back (open,
 * fstat, read, close), each a context switch on a machine whose cores the model workers keep busy; an
 * uncached prediction reads one. Larger files go through the thread pool, so that one cannot hold the
 * event loop.
 */
const READ_IN_PLACE_MAX_BYTES = 256 * 1024;

/**
 * The file's bytes, read in place when small (see above), else through the thread pool from the same
 * open file; ENOENT as a rejection, as readFile gives it.
 */
async function readBlobFile(path: string): Promise<Buffer> {
  const fd = openSync(path, 'r');
  try {
    const { size } = fstatSync(fd);
    if (size > READ_IN_PLACE_MAX_BYTES) return await readWhole(fd);
    const bytes = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, bytes, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    return read === size ? bytes : bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

const errorCode = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;

/** What `op` gives, or `fallback` when the file is not there; any other failure stays a failure. */
async function unlessMissing<T>(op: Promise<T>, fallback: T): Promise<T> {
  try {
    return await op;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return fallback;
    throw err;
  }
}

/**
 * Blobs as files under `root`, fanned out by the digest: `root/sha256/ab/cd/<64 hex>`. Writes go to a
 * temp file in the same directory, are fsynced, then renamed over the target, so a reader sees the
 * whole blob or none of it. Files are 0600 and directories 0700: the blobs are users' images.
 */
export async function createFilesystemBlobStore(root: string): Promise<BlobStore> {
  const base = resolve(root);
  await mkdir(base, { recursive: true, mode: 0o700 });

  /** Only `sha256/<64 hex>` maps to a path; anything else (`..`, separators, upper case) is refused. */
  const pathOf = (key: BlobKey): string => {
    if (typeof key !== 'string' || !isBlobKey(key)) throw new Error('invalid blob key');
    const hex = key.slice('sha256/'.length);
    const path = join(base, 'sha256', hex.slice(0, 2), hex.slice(2, 4), hex);
    // The key shape already rules traversal out; this second check keeps it so if the shape ever widens.
    if (!path.startsWith(base + sep)) throw new Error('invalid blob key');
    return path;
  };

  return {
    async put(key, bytes) {
      const target = pathOf(key);
      const dir = dirname(target);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const temp = `${target}.${randomBytes(8).toString('hex')}.tmp`;
      const handle = await open(temp, 'wx', 0o600);
      try {
        try {
          await handle.writeFile(bytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(temp, target);
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        throw err;
      }
      // Make the rename itself durable; not every platform can fsync a directory, and the data is safe either way.
      const dirHandle = await open(dir, 'r').catch(() => null);
      if (dirHandle) {
        await dirHandle.sync().catch(() => undefined);
        await dirHandle.close();
      }
    },

    async get(key) {
      return unlessMissing(readBlobFile(pathOf(key)), null);
    },

    async exists(key) {
      return unlessMissing(
        stat(pathOf(key)).then((s) => s.isFile()),
        false,
      );
    },

    async delete(key) {
      await unlessMissing(unlink(pathOf(key)), undefined);
    },

    async *list() {
      yield* listBlobFiles(join(base, 'sha256'));
    },

    async ping() {
      await access(base, constants.R_OK | constants.W_OK | constants.X_OK);
    },

    async close() {},
  };
}

/** The names in a directory, none when it is not there (nothing stored yet, or removed meanwhile). */
const namesIn = (dir: string): Promise<string[]> => unlessMissing(readdir(dir), []);

/** `sha256/ab/cd/<64 hex>` files; temp files of writes in progress and anything else are skipped. */
async function* listBlobFiles(root: string): AsyncIterable<StoredBlob> {
  for (const first of await namesIn(root)) {
    for (const second of await namesIn(join(root, first))) {
      const dir = join(root, first, second);
      for (const name of await namesIn(dir)) {
        const key = `sha256/${name}`;
        if (!isBlobKey(key) || !name.startsWith(first + second)) continue;
        const info = await unlessMissing(stat(join(dir, name)), null);
        if (info?.isFile()) yield { key, modifiedAt: info.mtime };
      }
    }
  }
}
