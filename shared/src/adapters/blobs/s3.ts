import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { type BlobKey, type BlobStore, isBlobKey } from '../../ports/blobs';

export interface S3BlobStoreOptions {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** MinIO and most S3-compatible servers need path-style URLs. */
  forcePathStyle: boolean;
}

/** The SDK's errors carry the S3 error code as `name` and the HTTP status in `$metadata`. */
function describeError(err: unknown): { name: string | undefined; status: number | undefined } {
  if (typeof err !== 'object' || err === null) return { name: undefined, status: undefined };
  const name = 'name' in err && typeof err.name === 'string' ? err.name : undefined;
  const metadata = '$metadata' in err ? err.$metadata : undefined;
  const status =
    typeof metadata === 'object' &&
    metadata !== null &&
    'httpStatusCode' in metadata &&
    typeof metadata.httpStatusCode === 'number'
      ? metadata.httpStatusCode
      : undefined;
  return { name, status };
}

/** A missing object (not a missing bucket, which is a misconfiguration and must surface). */
function isMissingObject(err: unknown): boolean {
  const { name, status } = describeError(err);
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || status === 404;
}

function checkedKey(key: BlobKey): string {
  if (typeof key !== 'string' || !isBlobKey(key)) throw new Error('invalid blob key');
  return key;
}

async function ensureBucket(client: S3Client, bucket: string, region: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (err) {
    const { name, status } = describeError(err);
    if (!(name === 'NotFound' || name === 'NoSuchBucket' || status === 404)) throw err;
  }
  try {
    await client.send(
      new CreateBucketCommand({
        Bucket: bucket,
        // us-east-1 is the one region S3 refuses an explicit location constraint for.
        ...(region === 'us-east-1'
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
      }),
    );
  } catch (err) {
    const { name } = describeError(err);
    if (name === 'BucketAlreadyOwnedByYou') return; // another instance created it first
    if (name !== 'BucketAlreadyExists') throw err;
    // Either a race with another instance, or the name belongs to someone else: only a fresh
    // HeadBucket tells which, and it fails now (403) rather than at the first upload.
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  }
}

/**
 * Blobs as objects in one bucket of S3 or an S3-compatible server (MinIO, Swift's s3api), keyed by the BlobKey
 * itself. A PUT is atomic in S3, so readers see all the bytes or none. The bucket is created on
 * start when missing.
 */
export async function createS3BlobStore(options: S3BlobStoreOptions): Promise<BlobStore> {
  const { bucket } = options;
  const client = new S3Client({
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    maxAttempts: 3,
    // Checksums only where an operation requires one. With the SDK's default (WHEN_SUPPORTED) a
    // streamed body is sent as `aws-chunked` with a trailing checksum, which OpenStack Swift's S3
    // API refuses (NotImplemented); MinIO and AWS take both. Bodies here are Buffers of known
    // length, sent whole either way; this keeps a future streamed upload working on Swift too.
    // Response checksums are still verified when the server sends them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    // Constructor options of the SDK's own Node handler: no dependency on @smithy/node-http-handler.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000, throwOnRequestTimeout: true },
  });
  try {
    await ensureBucket(client, bucket, options.region);
  } catch (err) {
    client.destroy();
    throw err;
  }

  return {
    async put(key, bytes, contentType) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: checkedKey(key),
          Body: bytes,
          ContentType: contentType,
          ContentLength: bytes.length,
        }),
      );
    },

    async get(key) {
      const Key = checkedKey(key);
      try {
        const result = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
        if (!result.Body) throw new Error('S3 GetObject answered without a body');
        const bytes = await result.Body.transformToByteArray();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (err) {
        if (isMissingObject(err)) return null;
        throw err;
      }
    },

    async exists(key) {
      const Key = checkedKey(key);
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key }));
        return true;
      } catch (err) {
        if (isMissingObject(err)) return false;
        throw err;
      }
    },

    async delete(key) {
      // S3 answers 204 whether or not the object was there.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: checkedKey(key) }));
    },

    async *list() {
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: 'sha256/', ContinuationToken, MaxKeys: 1000 }),
        );
        for (const { Key, LastModified } of page.Contents ?? [])
          if (Key && isBlobKey(Key)) yield { key: Key, modifiedAt: LastModified ?? new Date(0) };
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    },

    async ping() {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    },

    async close() {
      client.destroy();
    },
  };
}
