import { randomBytes } from 'node:crypto';
import { createLogger } from '@capcheck/shared';
import { BlobSweeper } from '@capcheck/images';
import { startImages, type ImagesSystem } from '../../../test-support/services';
import { requirementOf, suiteFor, uploadFile } from '../../../test-support/http';
import { png } from '../../../test-support/images';
import { startSwift, swiftMissing, type Swift } from '../../../test-support/swift';

/**
 * Identical bytes are stored once. An upload of X while the owner of a twin of X deletes it once
 * lost X's blob in 2,000 rounds against an S3 server: 201, then the content was 404 for good. Here
 * each round races the two over HTTP and every 201 must stay readable.
 */
const rounds = Number(process.env.CAPCHECK_RACE_ROUNDS ?? 200);
const logger = createLogger({ service: 'test', level: 'silent' });

function raceSuite(start: () => Promise<ImagesSystem>): void {
  let sys: ImagesSystem;
  beforeAll(async () => {
    sys = await start();
  }, 300_000);
  afterAll(() => sys?.close());

  test(
    `${rounds} rounds of upload-of-X against delete-of-a-twin-of-X: every 201 stays readable`,
    async () => {
      const uploader = await sys.signUp();
      const owner = await sys.signUp();
      const lost: number[] = [];
      let created = 0;
      for (let round = 0; round < rounds; round++) {
        const bytes = await png(16, 12);
        const twin = await uploadFile(sys.baseUrl, owner.accessToken, { bytes });
        expect(twin.status).toBe(201);
        // The delete starts 0 to 19 ms after the upload, so over the rounds it lands on each step of
        // the upload (the body arriving, the blob check, the record, the second check). This spreads
        // the interleavings; it waits for nothing.
        const deleteLater = new Promise<Response>((resolve, reject) =>
          setTimeout(
            () =>
              fetch(`${sys.baseUrl}/images/${twin.body.id as string}`, {
                method: 'DELETE',
                headers: { authorization: `Bearer ${owner.accessToken}` },
              }).then(resolve, reject),
            round % 20,
          ),
        );
        const [upload, deleted] = await Promise.all([
          uploadFile(sys.baseUrl, uploader.accessToken, { bytes }),
          deleteLater,
        ]);
        expect(deleted.status).toBe(204);
        expect(upload.status).toBe(201);
        created++;
        const content = await fetch(`${sys.baseUrl}/images/${upload.body.id as string}/content`, {
          headers: { authorization: `Bearer ${uploader.accessToken}` },
        });
        const readBack = Buffer.from(await content.arrayBuffer());
        if (content.status !== 200 || !readBack.equals(bytes)) lost.push(round);
      }
      expect({ created, lost }).toEqual({ created: rounds, lost: [] });
      // Nor does a sweep afterwards find any record without its blob.
      const sweeper = new BlobSweeper(
        { images: sys.store.images, blobs: sys.blobs, logger, clock: { now: () => new Date() } },
        { removeOrphansOlderThanMs: null },
      );
      expect((await sweeper.sweep()).recordsWithoutBlob).toBe(0);
    },
    rounds * 1_500,
  );
}

describe('twin-delete race: file blob store', () => {
  raceSuite(() => startImages());
});

// Swift's servers are slow to start (see blobs.swift.test.ts), so this runs when asked for, as that suite does.
const optedIn = requirementOf('swift') || process.env.CAPCHECK_SWIFT === '1';
const unavailable =
  swiftMissing() ?? (optedIn ? null : 'slow to start: set CAPCHECK_SWIFT=1 (or CAPCHECK_REQUIRE=swift) to run it');

suiteFor('twin-delete race: S3 blob store (OpenStack Swift s3api)', 'swift', unavailable, () => {
  let swift: Swift;
  raceSuite(async () => {
    swift = await startSwift();
    return startImages({
      BLOB_STORE: 's3',
      S3_ENDPOINT: swift.endpoint,
      S3_BUCKET: `capcheck-race-${randomBytes(6).toString('hex')}`,
      S3_ACCESS_KEY_ID: swift.accessKeyId,
      S3_SECRET_ACCESS_KEY: swift.secretAccessKey,
    });
  });
  afterAll(() => swift?.stop()); // after the images service's own afterAll, which closes its S3 client
});
