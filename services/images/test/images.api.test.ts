import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CapcheckEvent, type ImageId, type UserId } from '@capcheck/shared';
import { startImages, type ImagesSystem } from '../../../test-support/services';
import { uploadFile } from '../../../test-support/http';
import { jpeg, png, pngDeclaring, rotatedJpeg, webp } from '../../../test-support/images';
import { waitFor } from '../../../test-support/poll';

let sys: ImagesSystem;
const received: CapcheckEvent[] = [];
beforeAll(async () => {
  sys = await startImages();
  await sys.events.subscribe({
    queue: 'images-test-observer',
    types: ['image.uploaded', 'image.deleted'],
    handle: async (event) => void received.push(event),
  });
});
afterAll(() => sys.close());

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every file under the blob directory: what an upload leaves on disk. */
function blobFiles(): string[] {
  const root = join(sys.dataDir, 'blobs');
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  try {
    return walk(root);
  } catch {
    return [];
  }
}

interface ImageView {
  id: string;
  filename: string;
  format: string;
  width: number;
  height: number;
  sizeBytes: number;
  sha256: string;
  createdAt: string;
}

describe('the happy path for each format', () => {
  test.each([
    ['jpeg', jpeg, 'image/jpeg'],
    ['png', png, 'image/png'],
    ['webp', webp, 'image/webp'],
  ] as const)('%s: upload, read back byte-identical, delete, then 404', async (format, make, mime) => {
    const user = await sys.signUp();
    const bytes = await make(120, 90);
    const res = await uploadFile(sys.baseUrl, user.accessToken, {
      bytes,
      filename: `bottle.${format}`,
      contentType: mime,
    });
    expect(res.status).toBe(201);
    const body = res.body as unknown as ImageView;
    expect(body).toEqual({
      id: expect.any(String),
      filename: `bottle.${format}`,
      format,
      width: 120,
      height: 90,
      sizeBytes: bytes.length,
      sha256: sha256(bytes),
      createdAt: expect.any(String),
    });
    expect(res.headers.get('location')).toBe(`/images/${body.id}`);

    expect((await sys.api.get(`/images/${body.id}`, { token: user.accessToken })).body).toEqual(body);
    const content = await fetch(`${sys.baseUrl}/images/${body.id}/content`, {
      headers: { authorization: `Bearer ${user.accessToken}` },
    });
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe(mime);
    expect(Buffer.from(await content.arrayBuffer()).equals(bytes)).toBe(true);

    expect((await sys.api.delete(`/images/${body.id}`, { token: user.accessToken })).status).toBe(204);
    expect((await sys.api.get(`/images/${body.id}`, { token: user.accessToken })).status).toBe(404);
    expect((await sys.api.get(`/images/${body.id}/content`, { token: user.accessToken })).status).toBe(404);
    expect((await sys.api.delete(`/images/${body.id}`, { token: user.accessToken })).status).toBe(404);
    expect(await sys.store.images.countBySha256(body.sha256)).toBe(0);
    expect(blobFiles().some((f) => f.endsWith(body.sha256))).toBe(false);
  });
});

test('EXIF orientation is honoured for the stored dimensions', async () => {
  const user = await sys.signUp();
  const res = await uploadFile(sys.baseUrl, user.accessToken, { bytes: await rotatedJpeg(80, 40), filename: 'r.jpg' });
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ width: 40, height: 80 });
});

test('list: own images only, newest first, with cursor pagination', async () => {
  const user = await sys.signUp();
  const other = await sys.signUp();
  await uploadFile(sys.baseUrl, other.accessToken, { bytes: await png() });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push(
      ((await uploadFile(sys.baseUrl, user.accessToken, { bytes: await png() })).body as unknown as ImageView).id,
    );
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
    const page = await sys.api.get<{ items: ImageView[]; nextCursor: string | null }>(`/images${query}`, {
      token: user.accessToken,
    });
    expect(page.status).toBe(200);
    expect(page.body.items.length).toBeLessThanOrEqual(2);
    seen.push(...page.body.items.map((i) => i.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  expect(seen).toEqual([...ids].reverse());
  expect((await sys.api.get('/images?limit=0', { token: user.accessToken })).status).toBe(400);
  expect((await sys.api.get('/images?limit=101', { token: user.accessToken })).status).toBe(400);
});

test('identical bytes from two users: stored once, two records; the blob goes with the last record', async () => {
  const a = await sys.signUp();
  const b = await sys.signUp();
  const bytes = await jpeg();
  const first = (await uploadFile(sys.baseUrl, a.accessToken, { bytes })).body as unknown as ImageView;
  const second = (await uploadFile(sys.baseUrl, b.accessToken, { bytes })).body as unknown as ImageView;
  expect(first.id).not.toBe(second.id);
  expect(first.sha256).toBe(second.sha256);
  expect(blobFiles().filter((f) => f.endsWith(first.sha256))).toHaveLength(1);

  await sys.api.delete(`/images/${first.id}`, { token: a.accessToken });
  const stillThere = await fetch(`${sys.baseUrl}/images/${second.id}/content`, {
    headers: { authorization: `Bearer ${b.accessToken}` },
  });
  expect(Buffer.from(await stillThere.arrayBuffer()).equals(bytes)).toBe(true);
  await sys.api.delete(`/images/${second.id}`, { token: b.accessToken });
  expect(blobFiles().filter((f) => f.endsWith(first.sha256))).toHaveLength(0);
});

test("another user's image is a 404 for read, content and delete, and survives", async () => {
  const owner = await sys.signUp();
  const intruder = await sys.signUp();
  const img = (await uploadFile(sys.baseUrl, owner.accessToken, { bytes: await jpeg() })).body as unknown as ImageView;
  for (const res of [
    await sys.api.get(`/images/${img.id}`, { token: intruder.accessToken }),
    await sys.api.get(`/images/${img.id}/content`, { token: intruder.accessToken }),
    await sys.api.delete(`/images/${img.id}`, { token: intruder.accessToken }),
  ]) {
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: 'image not found' } });
  }
  expect((await sys.api.get(`/images/${img.id}`, { token: owner.accessToken })).status).toBe(200);
  expect((await sys.api.get('/images', { token: intruder.accessToken })).body).toEqual({ items: [], nextCursor: null });
});

test('a malformed id and an unknown id are 404', async () => {
  const user = await sys.signUp();
  for (const path of ['/images/not-an-id', '/images/00000000-0000-4000-8000-000000000000', "/images/1'%20OR%201=1"]) {
    expect((await sys.api.get(path, { token: user.accessToken })).status).toBe(404);
  }
});

test('every route needs a token', async () => {
  expect((await uploadFile(sys.baseUrl, undefined, { bytes: await jpeg() })).status).toBe(401);
  expect((await sys.api.get('/images')).status).toBe(401);
  expect((await sys.api.get('/images/00000000-0000-4000-8000-000000000000/content')).status).toBe(401);
});

describe('bad uploads: the documented 4xx, the process stays up, nothing left behind', () => {
  let user: Awaited<ReturnType<ImagesSystem['signUp']>>;
  beforeAll(async () => {
    user = await sys.signUp();
  });

  const cases: [string, () => Promise<Parameters<typeof uploadFile>>, number, string][] = [
    [
      'a text file named .jpg',
      async () => [
        sys.baseUrl,
        user.accessToken,
        { bytes: Buffer.from('hello, I am text'), filename: 'photo.jpg', contentType: 'image/jpeg' },
      ],
      415,
      'unsupported_image_type',
    ],
    [
      'a GIF',
      async () => [
        sys.baseUrl,
        user.accessToken,
        { bytes: Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'), filename: 'a.gif' },
      ],
      415,
      'unsupported_image_type',
    ],
    [
      'an SVG',
      async () => [
        sys.baseUrl,
        user.accessToken,
        {
          bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'),
          filename: 'a.svg',
          contentType: 'image/svg+xml',
        },
      ],
      415,
      'unsupported_image_type',
    ],
    [
      'a truncated JPEG',
      async () => {
        const b = await jpeg(200, 200);
        return [sys.baseUrl, user.accessToken, { bytes: b.subarray(0, Math.floor(b.length / 2)), filename: 't.jpg' }];
      },
      422,
      'corrupt_image',
    ],
    [
      'a JPEG signature followed by garbage',
      async () => [
        sys.baseUrl,
        user.accessToken,
        { bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(2000)]) },
      ],
      422,
      'corrupt_image',
    ],
    [
      'an empty file',
      async () => [sys.baseUrl, user.accessToken, { bytes: Buffer.alloc(0), filename: 'empty.jpg' }],
      400,
      'empty_file',
    ],
    ['no file field', async () => [sys.baseUrl, user.accessToken, null], 400, 'missing_file'],
    [
      'the file in another field',
      async () => [sys.baseUrl, user.accessToken, { bytes: Buffer.from('x'), field: 'photo' }],
      400,
      'unexpected_field',
    ],
    [
      'two files',
      async () => [
        sys.baseUrl,
        user.accessToken,
        { bytes: await jpeg() },
        { files: [{ bytes: await jpeg(), filename: 'b.jpg' }] },
      ],
      400,
      'too_many_files',
    ],
    [
      'a 12 MB file',
      async () => [
        sys.baseUrl,
        user.accessToken,
        { bytes: Buffer.concat([await jpeg(), randomBytes(12 * 1024 * 1024)]), filename: 'big.jpg' },
      ],
      413,
      'file_too_large',
    ],
    [
      'a small PNG declaring 30000×30000 pixels',
      async () => [sys.baseUrl, user.accessToken, { bytes: pngDeclaring(30000, 30000), filename: 'bomb.png' }],
      422,
      'too_many_pixels',
    ],
  ];

  test.each(cases)('%s', async (_name, args, status, code) => {
    const before = blobFiles().length;
    const res = await uploadFile(...(await args()));
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error: { code, message: expect.any(String) } });
    expect((await sys.api.get('/healthz')).status).toBe(200);
    expect(blobFiles().length).toBe(before);
    expect((await sys.store.images.listOwned(user.id as UserId, { limit: 10 })).items).toEqual([]);
  });

  test('a body that is not multipart is 415', async () => {
    const res = await sys.api.post('/images', { token: user.accessToken, json: { image: 'base64...' } });
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ error: { code: 'expected_multipart' } });
  });
});

test('an oversized upload without Content-Length (chunked): the server stops reading at the limit', async () => {
  const user = await sys.signUp();
  const boundary = 'xYz';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.jpg"\r\n\r\n`);
  let sent = 0;
  // A body that would go on for 50 MB if the server kept reading it.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === 0) controller.enqueue(head);
      if (sent > 50 * 1024 * 1024) return controller.close();
      sent += 256 * 1024;
      controller.enqueue(new Uint8Array(256 * 1024));
    },
  });
  const outcome = await fetch(`${sys.baseUrl}/images`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${user.accessToken}`,
      'content-type': `multipart/form-data; boundary=${boundary}`,
    },
    body,
    duplex: 'half',
  } as RequestInit).then(
    async (res) => ({ status: res.status, connection: res.headers.get('connection'), body: await res.json() }),
    // A client still sending when the server hangs up may see the reset before it reads the 413.
    (err: Error) => ({ status: 'reset', cause: String((err.cause as Error | undefined)?.message) }),
  );
  if (outcome.status === 'reset') {
    expect(outcome).toMatchObject({ cause: expect.stringMatching(/ECONNRESET|EPIPE|other side closed/) });
  } else {
    expect(outcome).toMatchObject({ status: 413, connection: 'close', body: { error: { code: 'file_too_large' } } });
  }
  expect(sent).toBeLessThan(30 * 1024 * 1024);
  expect((await sys.api.get('/healthz')).status).toBe(200);
});

test('the type comes from the bytes: a PNG sent as image/jpeg named .jpg is stored as PNG', async () => {
  const user = await sys.signUp();
  const res = await uploadFile(sys.baseUrl, user.accessToken, {
    bytes: await png(30, 20),
    filename: 'liar.jpg',
    contentType: 'image/jpeg',
  });
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ format: 'png', width: 30, height: 20 });
  const content = await fetch(`${sys.baseUrl}/images/${String(res.body.id)}/content`, {
    headers: { authorization: `Bearer ${user.accessToken}` },
  });
  expect(content.headers.get('content-type')).toBe('image/png');
});

test('a filename with ../ and a bidi override is kept only as clean metadata; UTF-8 survives', async () => {
  const user = await sys.signUp();
  const res = await uploadFile(sys.baseUrl, user.accessToken, {
    bytes: await jpeg(),
    filename: '../../etc/bouteille-é\u202egpj.exe.jpg',
  });
  expect(res.status).toBe(201);
  expect(res.body.filename).toBe('bouteille-égpj.exe.jpg');
  // The blob is named by content, never by the client's name.
  expect(blobFiles().every((f) => /\/sha256\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(f))).toBe(true);
});

test('control characters in a part header are a 400, not a crash', async () => {
  const user = await sys.signUp();
  const res = await uploadFile(sys.baseUrl, user.accessToken, {
    bytes: await jpeg(),
    filename: 'a\u0000b\u001b[31m.jpg',
  });
  expect(res.status).toBe(400);
  expect(res.body).toMatchObject({ error: { code: 'invalid_multipart' } });
  expect((await sys.api.get('/healthz')).status).toBe(200);
});

test('upload and delete publish image.uploaded and image.deleted', async () => {
  const user = await sys.signUp();
  const img = (await uploadFile(sys.baseUrl, user.accessToken, { bytes: await webp() })).body as unknown as ImageView;
  const uploaded = await waitFor('image.uploaded', () =>
    received.find((e) => e.type === 'image.uploaded' && e.imageId === (img.id as ImageId)),
  );
  expect(uploaded).toEqual({
    type: 'image.uploaded',
    eventId: expect.any(String),
    imageId: img.id,
    ownerId: user.id,
    sha256: img.sha256,
    objectKey: `sha256/${img.sha256}`,
    format: 'webp',
    createdAt: img.createdAt,
  });
  await sys.api.delete(`/images/${img.id}`, { token: user.accessToken });
  const deleted = await waitFor('image.deleted', () =>
    received.find((e) => e.type === 'image.deleted' && e.imageId === (img.id as ImageId)),
  );
  expect(deleted).toMatchObject({ ownerId: user.id, sha256: img.sha256, lastCopy: true });
});

test('image.deleted says lastCopy only when no other image has the same bytes', async () => {
  const [a, b] = [await sys.signUp(), await sys.signUp()];
  const bytes = await jpeg();
  const first = (await uploadFile(sys.baseUrl, a.accessToken, { bytes })).body as unknown as ImageView;
  const second = (await uploadFile(sys.baseUrl, b.accessToken, { bytes })).body as unknown as ImageView;
  const deletedEvent = (id: string) =>
    waitFor(`image.deleted for ${id}`, () =>
      received.find((e) => e.type === 'image.deleted' && e.imageId === (id as ImageId)),
    );
  await sys.api.delete(`/images/${first.id}`, { token: a.accessToken });
  expect(await deletedEvent(first.id)).toMatchObject({ sha256: first.sha256, lastCopy: false });
  await sys.api.delete(`/images/${second.id}`, { token: b.accessToken });
  expect(await deletedEvent(second.id)).toMatchObject({ sha256: first.sha256, lastCopy: true });
});

test('upload metrics by outcome and format', async () => {
  const user = await sys.signUp();
  await uploadFile(sys.baseUrl, user.accessToken, { bytes: await jpeg() });
  await uploadFile(sys.baseUrl, user.accessToken, { bytes: Buffer.from('text') });
  const text = await fetch(`${sys.baseUrl}/metrics`).then((r) => r.text());
  expect(text).toMatch(/capcheck_image_uploads_total\{outcome="created",format="jpeg"\} [1-9]/);
  expect(text).toMatch(/capcheck_image_uploads_total\{outcome="unsupported_type",format="unknown"\} [1-9]/);
  expect(text).toMatch(/capcheck_image_blob_bytes_written_total [1-9]/);
  expect(text).toMatch(/capcheck_events_published_total\{type="image.uploaded",outcome="ok"\} [1-9]/);
  expect(text).toMatch(
    /http_request_duration_seconds_count\{service="images",method="POST",route="\/images",status_code="201"\}/,
  );
});
