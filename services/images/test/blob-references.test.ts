import { createHash, randomBytes } from 'node:crypto';
import {
  blobKeyForSha256,
  createLogger,
  type BlobKey,
  type BlobStore,
  type ImageId,
  type Principal,
  type UserId,
} from '@capcheck/shared';
import { BlobSweeper, ImagesDomain, sharpDecoder } from '@capcheck/images';
import { startImages, type ImagesSystem } from '../../../test-support/services';
import { uploadFile } from '../../../test-support/http';
import { png } from '../../../test-support/images';
import { waitFor } from '../../../test-support/poll';

const logger = createLogger({ service: 'test', level: 'silent' });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * The blob store the domain is given, with one addition: the next delete can be held at the door
 * until the test lets it through, to put an operation exactly between a delete's decision and its
 * effect. The store behind it is the real one.
 */
function withHeldDelete(inner: BlobStore) {
  let held: { reached: () => void; released: Promise<void> } | null = null;
  const store: BlobStore = {
    ...inner,
    async delete(key: BlobKey) {
      const gate = held;
      held = null;
      if (gate) {
        gate.reached();
        await gate.released;
      }
      await inner.delete(key);
    },
  };
  const holdNextDelete = () => {
    let release!: () => void;
    let reached!: () => void;
    const atTheDoor = new Promise<void>((r) => (reached = r));
    held = { reached, released: new Promise<void>((r) => (release = r)) };
    return { atTheDoor, release };
  };
  return { store, holdNextDelete };
}

describe('the twin-delete race, step by step', () => {
  let sys: ImagesSystem;
  let domain: ImagesDomain;
  let holdNextDelete: ReturnType<typeof withHeldDelete>['holdNextDelete'];
  beforeAll(async () => {
    sys = await startImages();
    const gated = withHeldDelete(sys.blobs);
    holdNextDelete = gated.holdNextDelete;
    domain = new ImagesDomain({
      images: sys.store.images,
      blobs: gated.store,
      events: sys.events,
      decoder: sharpDecoder({ maxPixels: 40e6 }),
      telemetry: { upload: () => undefined, blobBytesWritten: () => undefined, eventPublished: () => undefined },
      logger,
      clock: { now: () => new Date() },
    });
  });
  afterAll(() => sys.close());

  const someone = (): Principal => ({ userId: randomBytes(8).toString('hex') as UserId, role: 'user' });

  test("an upload of X that completes while the last twin's delete is about to remove X's blob keeps its content", async () => {
    const [owner, uploader] = [someone(), someone()];
    const bytes = await png();
    const twin = await domain.upload(owner, { bytes });

    // The twin's owner deletes: its record and last reference go, and its blob removal is held
    // just before the blob store's delete.
    const gate = holdNextDelete();
    const deleting = domain.delete(owner, twin.id);
    await gate.atTheDoor;
    // Meanwhile the same bytes are uploaded, from start to 201: the blob is still there throughout.
    const uploaded = await domain.upload(uploader, { bytes });
    gate.release();
    await deleting;

    const content = await domain.content(uploader, uploaded.id);
    expect(content.bytes.equals(bytes)).toBe(true);
    expect(await sys.store.images.referencesTo(sha256(bytes))).toBe(1);
  });

  test('an upload whose record comes after the removal finished puts the blob back itself', async () => {
    const [owner, uploader] = [someone(), someone()];
    const bytes = await png();
    const twin = await domain.upload(owner, { bytes });
    await domain.delete(owner, twin.id);
    expect(await sys.blobs.exists(blobKeyForSha256(sha256(bytes)))).toBe(false);
    const uploaded = await domain.upload(uploader, { bytes });
    expect((await domain.content(uploader, uploaded.id)).bytes.equals(bytes)).toBe(true);
  });

  test('deleting one of two twins keeps the blob; deleting the last removes it', async () => {
    const [a, b] = [someone(), someone()];
    const bytes = await png();
    const first = await domain.upload(a, { bytes });
    const second = await domain.upload(b, { bytes });
    await domain.delete(a, first.id);
    expect((await domain.content(b, second.id)).bytes.equals(bytes)).toBe(true);
    await domain.delete(b, second.id);
    expect(await sys.blobs.exists(blobKeyForSha256(sha256(bytes)))).toBe(false);
  });
});

describe('the blob sweeper', () => {
  let sys: ImagesSystem;
  beforeAll(async () => {
    sys = await startImages();
  });
  afterAll(() => sys.close());

  const sweeper = (removeOrphansOlderThanMs: number | null, now = () => new Date()) =>
    new BlobSweeper(
      { images: sys.store.images, blobs: sys.blobs, logger, clock: { now } },
      { removeOrphansOlderThanMs },
    );

  test('finds records without their blob and blobs without records; removes orphans only past the grace', async () => {
    const user = await sys.signUp();
    const intact = await png();
    const broken = await png();
    for (const bytes of [intact, intact, broken])
      expect((await uploadFile(sys.baseUrl, user.accessToken, { bytes })).status).toBe(201);
    await sys.blobs.delete(blobKeyForSha256(sha256(broken)));
    const orphan = randomBytes(512);
    const orphanKey = blobKeyForSha256(sha256(orphan));
    await sys.blobs.put(orphanKey, orphan, 'application/octet-stream');

    expect(await sweeper(null).sweep()).toEqual({ recordsWithoutBlob: 1, orphanBlobs: 1, orphanBlobsRemoved: 0 });
    // Within the grace period an orphan may be an upload in progress: it stays.
    expect(await sweeper(60_000).sweep()).toEqual({ recordsWithoutBlob: 1, orphanBlobs: 1, orphanBlobsRemoved: 0 });
    expect(await sys.blobs.exists(orphanKey)).toBe(true);

    const later = () => new Date(Date.now() + 120_000);
    expect(await sweeper(60_000, later).sweep()).toEqual({
      recordsWithoutBlob: 1,
      orphanBlobs: 0,
      orphanBlobsRemoved: 1,
    });
    expect(await sys.blobs.exists(orphanKey)).toBe(false);
    expect(await sys.blobs.exists(blobKeyForSha256(sha256(intact)))).toBe(true);
  });
});

test('a sweeping process reports what it found as metrics', async () => {
  const sys = await startImages({ BLOB_SWEEP_INTERVAL_SECONDS: '1' });
  try {
    const orphan = randomBytes(256);
    await sys.blobs.put(blobKeyForSha256(sha256(orphan)), orphan, 'application/octet-stream');
    const user = await sys.signUp();
    const img = await uploadFile(sys.baseUrl, user.accessToken, { bytes: await png() });
    await sys.blobs.delete(blobKeyForSha256(img.body.sha256 as string));

    const metric = (text: string, name: string) => text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'))?.[1];
    const text = await waitFor(
      'a sweep that saw the orphan',
      async () => {
        const body = await (await fetch(`${sys.baseUrl}/metrics`)).text();
        return metric(body, 'capcheck_images_orphan_blobs') === '1' ? body : null;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(metric(text, 'capcheck_images_records_without_blob')).toBe('1');
    expect(Number(metric(text, 'capcheck_images_blob_sweep_timestamp_seconds'))).toBeGreaterThan(0);
    expect(metric(text, 'capcheck_images_orphan_blobs_removed_total')).toBe('0');
    // What the gauge counts: an image whose content answers 404.
    expect(
      (
        await fetch(`${sys.baseUrl}/images/${img.body.id as ImageId}/content`, {
          headers: { authorization: `Bearer ${user.accessToken}` },
        })
      ).status,
    ).toBe(404);
  } finally {
    await sys.close();
  }
});
