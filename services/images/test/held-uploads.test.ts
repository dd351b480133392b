import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signUp, startLocal, type LocalSystem } from '../../../test-support/local';
import { uniqueEmail, uploadFile } from '../../../test-support/http';
import { jpeg } from '../../../test-support/images';
import { waitFor } from '../../../test-support/poll';
import { rawConnection, requestHead, writeBody } from '../../../test-support/raw-http';

/** Clients that hold an upload open: stalled, trickling, half a head, or many at once. */

const uploadHead = (token: string, length: number) =>
  requestHead('POST', '/images', {
    'Content-Type': 'multipart/form-data; boundary=xYz',
    'Content-Length': length,
    Authorization: `Bearer ${token}`,
  }) + '--xYz\r\nContent-Disposition: form-data; name="image"; filename="held.jpg"\r\n\r\n';

const filesIn = (dir: string) => readdirSync(dir).map((name) => statSync(join(dir, name)).size);

/** Opens an upload of 9.5 MB, sends `sent` bytes of it, then holds the connection open. */
async function holdUpload(sys: LocalSystem, token: string, sent: number) {
  const conn = rawConnection(sys.baseUrl);
  await conn.connected;
  await conn.write(uploadHead(token, 9.5 * 1024 * 1024));
  await writeBody(conn, sent);
  return conn;
}

describe('server timeouts', () => {
  let sys: LocalSystem;
  let token: string;
  const uploadDir = mkdtempSync(join(tmpdir(), 'capcheck-held-'));
  beforeAll(async () => {
    sys = await startLocal({
      HTTP_HEADERS_TIMEOUT_MS: '500',
      HTTP_REQUEST_TIMEOUT_MS: '3000',
      HTTP_BODY_IDLE_TIMEOUT_MS: '500',
      UPLOAD_TMP_DIR: uploadDir,
    });
    token = (await signUp(sys.api, uniqueEmail())).accessToken;
  });
  afterAll(() => sys.close());

  test('an upload that stops sending is cut after the idle limit, and its partial bytes were on disk, not in memory', async () => {
    const conn = await holdUpload(sys, token, 4 * 1024 * 1024);
    const sizes = await waitFor('the partial upload in the temporary directory', () => {
      const found = filesIn(uploadDir);
      return found.some((size) => size >= 3 * 1024 * 1024) ? found : undefined;
    });
    expect(sizes).toHaveLength(1);
    await conn.untilClosed(); // the server hung up: no byte for 500 ms
    await waitFor('the partial file removed', () => (filesIn(uploadDir).length === 0 ? true : undefined));
  });

  test('a body trickled a byte at a time is cut at the whole-request limit', async () => {
    const conn = await holdUpload(sys, token, 1024);
    const trickle = setInterval(() => void conn.write('x'), 100); // always within the idle limit
    try {
      const started = Date.now();
      await conn.untilClosed();
      expect(Date.now() - started).toBeLessThan(8_000);
    } finally {
      clearInterval(trickle);
    }
  });

  test('a request head that never ends is cut at the head limit', async () => {
    const conn = rawConnection(sys.baseUrl);
    await conn.connected;
    await conn.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const answer = await conn.untilClosed();
    expect([null, 408]).toContain(answer.status);
  });

  test('a complete upload is answered normally under these limits', async () => {
    const res = await uploadFile(sys.baseUrl, token, { bytes: await jpeg(), filename: 'ok.jpg' });
    expect(res.status).toBe(201);
  });
});

describe('concurrent uploads', () => {
  let sys: LocalSystem;
  const uploadDir = mkdtempSync(join(tmpdir(), 'capcheck-slots-'));
  beforeAll(async () => {
    sys = await startLocal({
      MAX_CONCURRENT_UPLOADS_PER_USER: '2',
      MAX_CONCURRENT_UPLOADS: '3',
      UPLOAD_TMP_DIR: uploadDir,
    });
  });
  afterAll(() => sys.close());

  test('past the per-user cap a user gets 429, past the per-process cap anyone gets 503, both with Retry-After', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => signUp(sys.api, uniqueEmail())));
    const held = [await holdUpload(sys, a.accessToken, 1024), await holdUpload(sys, a.accessToken, 1024)];
    await waitFor('two uploads in progress', () => (filesIn(uploadDir).length === 2 ? true : undefined));

    const third = await uploadFile(sys.baseUrl, a.accessToken, { bytes: await jpeg(), filename: 'a.jpg' });
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ error: { code: 'too_many_uploads' } });
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);

    held.push(await holdUpload(sys, b.accessToken, 1024));
    await waitFor('three uploads in progress', () => (filesIn(uploadDir).length === 3 ? true : undefined));
    const busy = await uploadFile(sys.baseUrl, c.accessToken, { bytes: await jpeg(), filename: 'c.jpg' });
    expect(busy.status).toBe(503);
    expect(busy.body).toMatchObject({ error: { code: 'uploads_busy' } });
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);

    for (const conn of held) conn.destroy();
    const again = await waitFor('a slot free again', async () => {
      const res = await uploadFile(sys.baseUrl, a.accessToken, { bytes: await jpeg(), filename: 'a.jpg' });
      return res.status === 201 ? res : undefined;
    });
    expect(again.status).toBe(201);
  });
});
