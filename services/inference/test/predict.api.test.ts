import { randomUUID } from 'node:crypto';
import { blobKeyForSha256, newId, type ApiKeyId, type ImageId, type UserId } from '@capcheck/shared';
import { startInference, type InferenceSystem } from '../../../test-support/services';
import { uploadFile } from '../../../test-support/http';
import { png } from '../../../test-support/images';
import { samplePicture as sample, servedModel } from '../../../test-support/models';
import type { ModelManifest } from '@capcheck/inference';

interface Prediction {
  imageId: string;
  label: string;
  confidence: number;
  scores: Record<string, number>;
  certain: boolean;
  model: { name: string; version: string };
  cached: boolean;
}

let sys: InferenceSystem;
let adminToken: string;
let served: ModelManifest;
beforeAll(async () => {
  served = await servedModel();
  sys = await startInference();
  adminToken = (await sys.signUp('admin')).accessToken;
});
afterAll(() => sys.close());

async function userWith(file: Buffer) {
  const user = await sys.signUp();
  const uploaded = await uploadFile(sys.images.baseUrl, user.accessToken, { bytes: file, filename: 'bottle.jpg' });
  expect(uploaded.status).toBe(201);
  return { user, id: String(uploaded.body.id), sha256: String(uploaded.body.sha256) };
}

test.each([
  ['closed-1.jpg', 'closed'],
  ['open-1.jpg', 'open'],
])(
  '%s (a generated %s bottle) is predicted with a confidence; scores sum to 1; the second answer is cached',
  async (file, label) => {
    const { user, id } = await userWith(sample(file));
    const first = await sys.api.get<Prediction>(`/predict/${id}`, { token: user.accessToken });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      imageId: id,
      label,
      confidence: expect.any(Number),
      scores: { closed: expect.any(Number), open: expect.any(Number) },
      certain: expect.any(Boolean),
      model: { name: 'bottle-state', version: served.version },
      cached: false,
      stored: true,
    });
    expect(first.body.confidence).toBeGreaterThan(0.5);
    // `certain` follows the served manifest's threshold (a model without one claims every verdict).
    const threshold = served.certaintyThreshold ?? 0;
    expect(first.body.certain).toBe(first.body.confidence >= threshold);
    expect(first.body.confidence).toBe(first.body.scores[label]);
    expect(first.body.scores.closed! + first.body.scores.open!).toBeCloseTo(1, 5);
    const second = await sys.api.get<Prediction>(`/predict/${id}`, { token: user.accessToken });
    expect(second.body).toEqual({ ...first.body, cached: true });
  },
);

test('identical bytes uploaded by someone else are answered from the cache', async () => {
  const bytes = sample('closed-2.jpg');
  const a = await userWith(bytes);
  await sys.api.get(`/predict/${a.id}`, { token: a.user.accessToken });
  const b = await userWith(bytes);
  const res = await sys.api.get<Prediction>(`/predict/${b.id}`, { token: b.user.accessToken });
  expect(res.body).toMatchObject({ imageId: b.id, cached: true });
});

test("another user's image, an unknown id, a malformed id and a deleted image are 404; no token is 401", async () => {
  const { user, id } = await userWith(await png());
  const intruder = await sys.signUp();
  for (const [path, token] of [
    [`/predict/${id}`, intruder.accessToken],
    [`/predict/${randomUUID()}`, user.accessToken],
    ['/predict/not-an-id', user.accessToken],
  ] as const) {
    const res = await sys.api.get(path, { token });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: 'image not found' } });
  }
  expect((await sys.api.get(`/predict/${id}`)).status).toBe(401);
  await sys.images.api.delete(`/images/${id}`, { token: user.accessToken });
  expect((await sys.api.get(`/predict/${id}`, { token: user.accessToken })).status).toBe(404);
});

test('a stored image the model cannot decode is a 422, and the process stays up', async () => {
  const user = await sys.signUp();
  // Bypass the upload checks, as a corrupted blob on disk would.
  const garbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from(randomUUID())]);
  const sha256 = (await import('node:crypto')).createHash('sha256').update(garbage).digest('hex');
  const id = newId<ImageId>();
  await sys.blobs.put(blobKeyForSha256(sha256), garbage, 'image/jpeg');
  await sys.images.store.images.create({
    id,
    ownerId: user.id,
    filename: 'x.jpg',
    format: 'jpeg',
    width: 1,
    height: 1,
    sizeBytes: garbage.length,
    sha256,
    objectKey: `sha256/${sha256}`,
    createdAt: new Date(),
  });
  const res = await sys.api.get(`/predict/${id}`, { token: user.accessToken });
  expect(res.status).toBe(422);
  expect(res.body).toMatchObject({ error: { code: 'corrupt_image' } });
  expect((await sys.api.get('/healthz')).status).toBe(200);
});

test('GET /models describes the loaded model', async () => {
  const user = await sys.signUp();
  const res = await sys.api.get('/models', { token: user.accessToken });
  expect(res.body).toMatchObject({
    status: 'ready',
    items: [
      {
        name: 'bottle-state',
        version: served.version,
        labels: ['closed', 'open'],
        input: { dtype: 'uint8', layout: 'NHWC', shape: [null, ...served.inputShape] },
        certaintyThreshold: served.certaintyThreshold,
        embedding: served.embedding,
        testMetrics: expect.any(Object),
      },
    ],
  });
  expect((await sys.api.get('/models')).status).toBe(401);
});

describe('request logs', () => {
  test('each prediction request is logged; admins query them by time range and label', async () => {
    const { user, id, sha256 } = await userWith(sample('open-2.jpg'));
    const started = new Date(Date.now() - 1000).toISOString();
    await sys.api.get(`/predict/${id}`, { token: user.accessToken, headers: { 'user-agent': 'bottling-line/3' } });
    const res = await sys.api.get<{ items: Record<string, unknown>[] }>(
      `/admin/api/prediction-logs?from=${encodeURIComponent(started)}&label=open`,
      { token: adminToken },
    );
    expect(res.status).toBe(200);
    const mine = res.body.items.filter((l) => l.imageId === id);
    expect(mine).toEqual([
      {
        id: expect.any(String),
        at: expect.any(String),
        imageId: id,
        userId: user.id,
        apiKeyId: null,
        clientIp: expect.stringMatching(/127\.0\.0\.1/),
        userAgent: 'bottling-line/3',
        imageFormat: 'jpeg',
        imageSha256: sha256,
        label: 'open',
        confidence: expect.any(Number),
        modelName: 'bottle-state',
        modelVersion: served.version,
        cached: false,
        latencyMs: expect.any(Number),
        // No shadow rollout: no candidate answered.
        shadowModelVersion: null,
        shadowLabel: null,
        shadowConfidence: null,
      },
    ]);
    const closedOnly = await sys.api.get<{ items: { label: string }[] }>(
      `/admin/api/prediction-logs?from=${encodeURIComponent(started)}&label=closed`,
      { token: adminToken },
    );
    expect(closedOnly.body.items.every((l) => l.label === 'closed')).toBe(true);
  });

  test('a prediction through an API-key token logs the key', async () => {
    const { user, id } = await userWith(await png());
    // What the users service signs when it trades an API key for an access token.
    const apiKeyId = newId<ApiKeyId>();
    const traded = await sys.tokenFor({ userId: user.id, role: 'user', apiKeyId });
    await sys.api.get(`/predict/${id}`, { token: traded });
    const logs = await sys.store.predictionLogs.query({
      from: new Date(Date.now() - 60_000),
      to: new Date(Date.now() + 1000),
      limit: 50,
    });
    expect(logs.items.find((l) => l.imageId === id)?.apiKeyId).toBe(apiKeyId);
  });

  test('non-admins get 403; a reversed range or a bad date is 400', async () => {
    const user = await sys.signUp();
    expect((await sys.api.get('/admin/api/prediction-logs', { token: user.accessToken })).status).toBe(403);
    const token = adminToken;
    expect(
      (await sys.api.get('/admin/api/prediction-logs?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', { token }))
        .status,
    ).toBe(400);
    expect((await sys.api.get('/admin/api/prediction-logs?from=yesterday', { token })).status).toBe(400);
  });

  test('retention removes logs older than PREDICTION_LOG_RETENTION_DAYS', async () => {
    const old = {
      id: randomUUID(),
      at: new Date(Date.now() - 31 * 86_400_000),
      imageId: newId<ImageId>(),
      userId: newId<UserId>(),
      apiKeyId: null,
      clientIp: '127.0.0.1',
      userAgent: 'x',
      imageFormat: 'png' as const,
      imageSha256: 'a'.repeat(64),
      label: 'open',
      confidence: 0.9,
      modelName: 'bottle-state',
      modelVersion: served.version,
      cached: false,
      latencyMs: 1,
      shadowModelVersion: null,
      shadowLabel: null,
      shadowConfidence: null,
    };
    const recent = { ...old, id: randomUUID(), at: new Date() };
    await sys.store.predictionLogs.append(old);
    await sys.store.predictionLogs.append(recent);
    expect(await sys.inference.domain.pruneLogs()).toBeGreaterThanOrEqual(1);
    const left = await sys.store.predictionLogs.query({
      from: new Date(0),
      to: new Date(Date.now() + 1000),
      limit: 500,
    });
    expect(left.items.some((l) => l.id === old.id)).toBe(false);
    expect(left.items.some((l) => l.id === recent.id)).toBe(true);
  });
});

test('prediction metrics', async () => {
  const { user, id } = await userWith(sample('closed-1.jpg'));
  await sys.api.get(`/predict/${id}`, { token: user.accessToken });
  const text = await fetch(`${sys.baseUrl}/metrics`).then((r) => r.text());
  for (const name of [
    'capcheck_predictions_total{label="closed",model="bottle-state"',
    'capcheck_prediction_cache_total{result="hit"}',
    'capcheck_inference_duration_seconds_count',
    'capcheck_inference_batch_size_count',
    'capcheck_inference_queue_depth',
    'capcheck_prediction_confidence_bucket',
  ]) {
    expect(text).toContain(name);
  }
});
