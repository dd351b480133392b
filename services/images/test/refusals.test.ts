import { signUp, startLocal, type LocalSystem } from '../../../test-support/local';
import { uniqueEmail } from '../../../test-support/http';
import { rawConnection, requestHead, writeBody } from '../../../test-support/raw-http';

/**
 * Refusals a client must be able to read even though it writes its whole body before reading anything
 * (Node's fetch does): the server answers early, then reads and discards a bounded rest (lingering close).
 */
let sys: LocalSystem;
let token: string;
beforeAll(async () => {
  sys = await startLocal();
  token = (await signUp(sys.api, uniqueEmail())).accessToken;
});
afterAll(() => sys.close());

const multipart = (length: number, auth?: string) =>
  requestHead('POST', '/images', {
    'Content-Type': 'multipart/form-data; boundary=xYz',
    'Content-Length': length,
    ...(auth ? { Authorization: `Bearer ${auth}` } : {}),
  });

test.each([
  ['413 for a declared 12 MB upload', () => token, 413, 'file_too_large'],
  ['401 for a 12 MB upload without a token', () => undefined, 401, 'missing_token'],
])('%s reaches a client that writes the whole body first', async (_name, auth, status, code) => {
  const size = 12 * 1024 * 1024;
  const conn = rawConnection(sys.baseUrl);
  await conn.connected;
  await conn.write(multipart(size, auth()));
  const written = await writeBody(conn, size);
  expect(written).toBe(size); // no reset while sending
  const answer = conn.parse();
  conn.destroy();
  expect(answer.status).toBe(status);
  expect(answer.headers.connection).toBe('close');
  expect(JSON.parse(answer.body)).toMatchObject({ error: { code } });
});

test('after an early refusal, the server discards only a bounded rest of an endless body, then closes', async () => {
  const conn = rawConnection(sys.baseUrl);
  await conn.connected;
  await conn.write(multipart(1024 * 1024 * 1024, token));
  const written = await writeBody(conn, 1024 * 1024 * 1024);
  const answer = await conn.untilClosed();
  expect(answer.status).toBe(413);
  expect(written).toBeLessThan(64 * 1024 * 1024);
});
