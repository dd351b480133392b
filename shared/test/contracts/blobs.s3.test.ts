import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type S3BlobStoreOptions, createS3BlobStore } from '@capcheck/shared';
import { blobStoreContract, randomBlob } from './blobs.contract';

/** The part of s3rver (CommonJS, no type definitions) this suite uses. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: {
  port: number;
  address: string;
  silent: boolean;
  directory: string;
  resetOnClose?: boolean;
}) => S3rverInstance;
const S3rver = createRequire(__filename)('s3rver') as S3rverClass;

describe('blob store port: S3 adapter (against s3rver)', () => {
  let directory: string;
  let server: S3rverInstance;
  let endpoint: string;
  // A bucket that does not exist yet: opening the store has to create it.
  const bucket = `capcheck-test-${randomBytes(6).toString('hex')}`;
  const options = (): S3BlobStoreOptions => ({
    endpoint,
    region: 'us-east-1',
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
  });

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'capcheck-s3rver-'));
    server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
  });

  blobStoreContract(() => createS3BlobStore(options()));

  test('a second store on the now existing bucket opens and shares the blobs', async () => {
    const first = await createS3BlobStore(options());
    const second = await createS3BlobStore(options());
    try {
      const { key, bytes } = randomBlob();
      await first.put(key, bytes, 'image/png');
      expect((await second.get(key))!.equals(bytes)).toBe(true);
      await expect(second.ping()).resolves.toBeUndefined();
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('stores opened in parallel on a new bucket all succeed', async () => {
    const fresh = { ...options(), bucket: `capcheck-test-${randomBytes(6).toString('hex')}` };
    const stores = await Promise.all(Array.from({ length: 3 }, () => createS3BlobStore(fresh)));
    try {
      await Promise.all(stores.map((s) => s.ping()));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('opening creates a bucket that was missing, and objects keep their content type', async () => {
    const fresh = { ...options(), bucket: `capcheck-test-${randomBytes(6).toString('hex')}` };
    const raw = new S3Client({
      endpoint,
      region: fresh.region,
      forcePathStyle: true,
      credentials: { accessKeyId: fresh.accessKeyId, secretAccessKey: fresh.secretAccessKey },
    });
    try {
      await expect(raw.send(new HeadBucketCommand({ Bucket: fresh.bucket }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 404 },
      });
      const store = await createS3BlobStore(fresh);
      try {
        await expect(raw.send(new HeadBucketCommand({ Bucket: fresh.bucket }))).resolves.toBeDefined();
        const { key, bytes } = randomBlob();
        await store.put(key, bytes, 'image/webp');
        const head = await raw.send(new HeadObjectCommand({ Bucket: fresh.bucket, Key: key }));
        expect(head.ContentType).toBe('image/webp');
        expect(head.ContentLength).toBe(bytes.length);
      } finally {
        await store.close();
      }
    } finally {
      raw.destroy();
    }
  });

  // s3rver does not verify SigV4 signatures (a wrong secret passes); an unknown access key id it refuses.
  test('opening fails, rather than hangs, when the server refuses the credentials', async () => {
    await expect(createS3BlobStore({ ...options(), accessKeyId: 'NOT-S3RVER' })).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
  });

  test('opening fails when the server is not there', async () => {
    await expect(createS3BlobStore({ ...options(), endpoint: 'http://127.0.0.1:1' })).rejects.toThrow();
  });

  afterAll(async () => {
    await server?.close();
    rmSync(directory, { recursive: true, force: true });
  });
});
