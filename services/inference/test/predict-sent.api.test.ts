// POST /predict and POST /predict/batch: the line camera sends the picture with the question.
import { createHash } from 'node:crypto';
import type { ModelManifest } from '@capcheck/inference';
import { signUp, startLocal, type LocalSystem } from '../../../test-support/local';
import { uniqueEmail, uploadFile } from '../../../test-support/http';
import { jpeg } from '../../../test-support/images';
import { samplePicture as sample, servedModel } from '../../../test-support/models';

interface Prediction {
  imageId: string | null;
  label: string;
  confidence: number;
  scores: Record<string, number>;
  model: { name: string; version: string };
  cached: boolean;
  stored: boolean;
}

let sys: LocalSystem;
let served: ModelManifest;
const maxUploadBytes = 300_000;
const adminEmail = uniqueEmail('admin');
let adminToken: string;
beforeAll(async () => {
  served = await servedModel();
  sys = await startLocal({ ADMIN_EMAILS: adminEmail, MAX_UPLOAD_BYTES: String(maxUploadBytes) });
  adminToken = (await signUp(sys.api, adminEmail)).accessToken;
});
afterAll(() => sys.close());

const newUser = () => signUp(sys.api, uniqueEmail('camera'));
/** The same pixels, other bytes: a JPEG comment segment makes each call's picture new to the cache. */
const fresh = (file: string) => {
  const bytes = sample(file);
  const text = Buffer.from(`camera ${process.hrtime.bigint()}`);
  const head = Buffer.from([0xff, 0xfe, 0, text.length + 2]);
  return Buffer.concat([bytes.subarray(0, 2), head, text, bytes.subarray(2)]);
};
const postPicture = (token: string | undefined, bytes: Buffer, options: { path?: string; field?: string } = {}) =>
  uploadFile(
    sys.baseUrl,
    token,
    { bytes, filename: 'frame.jpg', field: options.field ?? 'image' },
    { path: options.path ?? '/predict' },
  );
const postRaw = async (token: string, body: Buffer, contentType: string, path = '/predict') => {
  const res = await fetch(`${sys.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const postBatch = (token: string, pictures: Buffer[], field = 'images') =>
  uploadFile(sys.baseUrl, token, null, {
    path: '/predict/batch',
    files: pictures.map((bytes, i) => ({ bytes, filename: `frame-${i}.jpg`, field })),
  });
/** Multipart bodies written by hand, for the malformed ones a form library would not send. */
const boundary = 'capcheck-test-boundary';
const formType = `multipart/form-data; boundary=${boundary}`;
const filePart = (field: string, bytes: Buffer) =>
  Buffer.concat([
    Buffer.from(
      `Content-Disposition: form-data; name="${field}"; filename="frame.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    ),
    bytes,
  ]);
const textPart = (field: string, text: string) =>
  Buffer.from(`Content-Disposition: form-data; name="${field}"\r\n\r\n${text}`);
const multipartBody = (parts: Buffer[]) =>
  Buffer.concat([
    ...parts.flatMap((part) => [Buffer.from(`--${boundary}\r\n`), part, Buffer.from('\r\n')]),
    Buffer.from(`--${boundary}--\r\n`),
  ]);
const imagesOf = async (token: string) => (await sys.api.get<{ items: unknown[] }>('/images', { token })).body.items;

test('a picture in the field "image": the verdict, in the shape of GET /predict/:id, nothing stored; the same bytes again come from the cache', async () => {
  const user = await newUser();
  const bytes = fresh('closed-1.jpg');
  const first = await postPicture(user.accessToken, bytes);
  expect(first.status).toBe(200);
  expect(first.body).toEqual({
    imageId: null,
    label: 'closed',
    confidence: expect.any(Number),
    scores: { closed: expect.any(Number), open: expect.any(Number) },
    certain: expect.any(Boolean),
    model: { name: 'bottle-state', version: served.version },
    cached: false,
    stored: false,
  });
  const again = await postPicture(user.accessToken, bytes);
  expect(again.body).toEqual({ ...first.body, cached: true });
  expect(await imagesOf(user.accessToken)).toEqual([]);
});

test('a raw image/jpeg body works as the multipart field does, and an API-key token is accepted', async () => {
  const user = await newUser();
  const key = await sys.api.post<{ key: string }>('/users/me/api-keys', {
    token: user.accessToken,
    json: { name: 'bottling line 3' },
  });
  const traded = await sys.api.post<{ accessToken: string }>('/auth/token', { headers: { 'x-api-key': key.body.key } });
  expect(traded.status).toBe(200);
  const res = await postRaw(traded.body.accessToken, fresh('open-1.jpg'), 'image/jpeg');
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ label: 'open', imageId: null, stored: false, cached: false });
});

test('each request is logged (format, size via sha256, verdict, client) even though nothing is stored', async () => {
  const user = await newUser();
  const bytes = fresh('open-2.jpg');
  await postPicture(user.accessToken, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const logs = await sys.api.get<{ items: Record<string, unknown>[] }>('/admin/api/prediction-logs?limit=500', {
    token: adminToken,
  });
  expect(logs.status).toBe(200);
  expect(logs.body.items.find((l) => l.imageSha256 === sha256)).toMatchObject({
    imageId: null,
    userId: user.id,
    imageFormat: 'jpeg',
    label: 'open',
    cached: false,
    modelVersion: served.version,
  });
});

test('?store=true stores the picture as an upload would (201, Location) and answers with its id', async () => {
  const user = await newUser();
  const res = await postRaw(user.accessToken, fresh('closed-2.jpg'), 'image/jpeg', '/predict?store=true');
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ label: 'closed', stored: true, imageId: expect.any(String) });
  const id = String(res.body.imageId);
  expect(await imagesOf(user.accessToken)).toEqual([expect.objectContaining({ id, format: 'jpeg' })]);
  const asked = await sys.api.get<Prediction>(`/predict/${id}`, { token: user.accessToken });
  expect(asked.body).toEqual({ ...res.body, cached: true });
  // Stored through the images service: another user cannot see it.
  const other = await newUser();
  expect((await sys.api.get(`/predict/${id}`, { token: other.accessToken })).status).toBe(404);
});

test.each([
  ['no token', async () => postPicture(undefined, sample('open-1.jpg')), 401, 'missing_token'],
  [
    'the wrong field',
    async (t: string) => postPicture(t, sample('open-1.jpg'), { field: 'picture' }),
    400,
    'unexpected_field',
  ],
  [
    'a JSON body',
    async (t: string) => postRaw(t, Buffer.from('{"image": "x"}'), 'application/json'),
    415,
    'expected_multipart',
  ],
  [
    'a GIF',
    async (t: string) => postPicture(t, Buffer.from('GIF89a' + 'x'.repeat(100))),
    415,
    'unsupported_image_type',
  ],
  [
    'a GIF sent raw as image/png',
    async (t: string) => postRaw(t, Buffer.from('GIF89a....'), 'image/png'),
    415,
    'unsupported_image_type',
  ],
  ['an empty raw body', async (t: string) => postRaw(t, Buffer.alloc(0), 'image/jpeg'), 400, 'missing_file'],
  [
    'a truncated JPEG',
    async (t: string) => postPicture(t, sample('open-1.jpg').subarray(0, 700)),
    422,
    'corrupt_image',
  ],
  [
    'a picture over MAX_UPLOAD_BYTES',
    async (t: string) => postPicture(t, await jpeg(700, 700, 100)),
    413,
    'file_too_large',
  ],
  ['the same, raw', async (t: string) => postRaw(t, await jpeg(700, 700, 100), 'image/jpeg'), 413, 'file_too_large'],
  [
    'a multipart body without a boundary',
    async (t: string) => postRaw(t, Buffer.from('--x\r\n\r\n--x--\r\n'), 'multipart/form-data'),
    400,
    'invalid_multipart',
  ],
  [
    'a multipart body cut short',
    async (t: string) =>
      postRaw(t, multipartBody([filePart('image', sample('open-1.jpg'))]).subarray(0, 500), formType),
    400,
    'invalid_multipart',
  ],
  [
    'two files in "image"',
    async (t: string) =>
      postRaw(
        t,
        multipartBody([filePart('image', sample('open-1.jpg')), filePart('image', sample('open-2.jpg'))]),
        formType,
      ),
    400,
    'too_many_files',
  ],
  [
    'a text field over 1 KB beside the picture',
    async (t: string) =>
      postRaw(
        t,
        multipartBody([textPart('note', 'x'.repeat(2000)), filePart('image', sample('open-1.jpg'))]),
        formType,
      ),
    400,
    'invalid_multipart',
  ],
  [
    '?store=maybe',
    async (t: string) => postRaw(t, sample('open-1.jpg'), 'image/jpeg', '/predict?store=maybe'),
    400,
    'invalid_request',
  ],
])('POST /predict with %s is refused, nothing stored', async (_name, send, status, code) => {
  const user = await newUser();
  const res = await send(user.accessToken);
  expect(res.status).toBe(status);
  expect((res.body as { error: { code: string } }).error.code).toBe(code);
  expect(await imagesOf(user.accessToken)).toEqual([]);
});

test('a batch answers each picture in order; a corrupt one gets its own error, the others their verdicts; nothing is stored', async () => {
  const user = await newUser();
  const res = await postBatch(user.accessToken, [
    fresh('closed-1.jpg'),
    sample('open-1.jpg').subarray(0, 700),
    fresh('open-2.jpg'),
    Buffer.from('GIF89a....'),
  ]);
  expect(res.status).toBe(200);
  const { results } = res.body as { results: Record<string, unknown>[] };
  expect(results).toHaveLength(4);
  expect(results[0]).toMatchObject({ label: 'closed', imageId: null, stored: false });
  expect(results[1]).toEqual({ error: { code: 'corrupt_image', message: expect.any(String) }, status: 422 });
  expect(results[2]).toMatchObject({ label: 'open', imageId: null, stored: false });
  expect(results[3]).toEqual({ error: { code: 'unsupported_image_type', message: expect.any(String) }, status: 415 });
  expect(await imagesOf(user.accessToken)).toEqual([]);
});

test('32 pictures are one batch; 33 is a 413 that says how many fit', async () => {
  const user = await newUser();
  const ok = await postBatch(
    user.accessToken,
    Array.from({ length: 32 }, (_, i) => fresh(i % 2 ? 'open-1.jpg' : 'closed-1.jpg')),
  );
  expect(ok.status).toBe(200);
  const results = (ok.body as { results: Prediction[] }).results;
  expect(results.map((r) => r.label)).toEqual(Array.from({ length: 32 }, (_, i) => (i % 2 ? 'open' : 'closed')));
  const over = await postBatch(
    user.accessToken,
    Array.from({ length: 33 }, () => sample('open-1.jpg')),
  );
  expect(over.status).toBe(413);
  expect(over.body).toEqual({
    error: { code: 'too_many_files', message: expect.stringContaining('at most 32 pictures') },
  });
});

test('a picture of exactly MAX_UPLOAD_BYTES is taken, one byte more is a 413', async () => {
  const user = await newUser();
  // Bytes after a JPEG's end-of-image marker are ignored by decoders: the same picture, padded.
  const padded = (size: number) =>
    Buffer.concat([sample('open-1.jpg'), Buffer.alloc(size - sample('open-1.jpg').length)]);
  const exact = await postPicture(user.accessToken, padded(maxUploadBytes));
  expect(exact.status).toBe(200);
  expect(exact.body).toMatchObject({ label: 'open', stored: false });
  const over = await postPicture(user.accessToken, padded(maxUploadBytes + 1));
  expect(over.status).toBe(413);
  expect((over.body as { error: { code: string } }).error.code).toBe('file_too_large');
});

test('a file input left empty, as a browser form sends it, is no picture', async () => {
  const user = await newUser();
  const emptyInput = (field: string) =>
    Buffer.from(
      `Content-Disposition: form-data; name="${field}"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
  const alone = await postRaw(user.accessToken, multipartBody([emptyInput('image')]), formType);
  expect(alone.status).toBe(400);
  expect((alone.body as { error: { code: string } }).error.code).toBe('missing_file');
  const batch = await postRaw(
    user.accessToken,
    multipartBody([emptyInput('thumbnail'), filePart('images', sample('open-1.jpg')), emptyInput('images')]),
    formType,
    '/predict/batch',
  );
  expect(batch.status).toBe(200);
  expect((batch.body as { results: Prediction[] }).results.map((r) => r.label)).toEqual(['open']);
});

test('a batch in the wrong field is a 400, an empty one too, and without a token a 401', async () => {
  const user = await newUser();
  const wrong = await postBatch(user.accessToken, [sample('open-1.jpg')], 'image');
  expect(wrong.status).toBe(400);
  expect((wrong.body as { error: { code: string } }).error.code).toBe('unexpected_field');
  const empty = await postBatch(user.accessToken, []);
  expect(empty.status).toBe(400);
  const anonymous = await uploadFile(sys.baseUrl, undefined, null, {
    path: '/predict/batch',
    files: [{ bytes: sample('open-1.jpg'), filename: 'a.jpg', field: 'images' }],
  });
  expect(anonymous.status).toBe(401);
});
