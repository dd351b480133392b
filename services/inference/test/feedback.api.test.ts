import { randomUUID } from 'node:crypto';
import { newId, type ApiKeyId } from '@capcheck/shared';
import type { ModelManifest } from '@capcheck/inference';
import { startInference, type InferenceSystem, type TestUser } from '../../../test-support/services';
import { uploadFile } from '../../../test-support/http';
import { waitFor } from '../../../test-support/poll';
import { samplePicture as sample, servedModel } from '../../../test-support/models';

interface Answer {
  imageId: string;
  label: string;
  predicted: { label: string; confidence: number; model: { name: string; version: string } };
}
interface AdminAnswer extends Answer {
  userId: string;
  sha256: string;
  createdAt: string;
  updatedAt: string;
}
interface AdminPage {
  items: AdminAnswer[];
  nextCursor: string | null;
}

let sys: InferenceSystem;
let admin: TestUser;
let served: ModelManifest;
beforeAll(async () => {
  served = await servedModel();
  sys = await startInference();
  admin = await sys.signUp('admin');
});
afterAll(() => sys.close());

/** A new user with one uploaded picture (a generated closed bottle unless told otherwise). */
async function userWithImage(file = 'closed-1.jpg') {
  const user = await sys.signUp();
  const uploaded = await uploadFile(sys.images.baseUrl, user.accessToken, { bytes: sample(file), filename: file });
  expect(uploaded.status).toBe(201);
  return { user, id: String(uploaded.body.id), sha256: String(uploaded.body.sha256) };
}

const tell = (id: string, token: string | undefined, body: unknown) =>
  sys.api.put<Answer>(`/predict/${id}/feedback`, { token, json: body });

/** Every admin-listed answer for one image (the store is shared by this file's tests). */
async function listedFor(imageId: string, query = ''): Promise<AdminAnswer[]> {
  const res = await sys.api.get<AdminPage>(`/admin/api/feedback?limit=500${query}`, { token: admin.accessToken });
  expect(res.status).toBe(200);
  return res.body.items.filter((f) => f.imageId === imageId);
}

/** The value of one capcheck_feedback_total series, 0 when it does not exist yet. */
async function feedbackCount(labels: { label: string; agreed: string; model_version: string }): Promise<number> {
  const text = await (await fetch(`${sys.baseUrl}/metrics`)).text();
  const series = `capcheck_feedback_total{label="${labels.label}",agreed="${labels.agreed}",model_version="${labels.model_version}"}`;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test("the owner says what the image shows: 200 with the served model's verdict beside it", async () => {
  const { user, id } = await userWithImage('closed-1.jpg');
  const res = await tell(id, user.accessToken, { label: 'open' });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({
    imageId: id,
    label: 'open',
    predicted: {
      label: 'closed',
      confidence: expect.any(Number),
      model: { name: 'bottle-state', version: served.version },
    },
  });
  // The same verdict GET /predict gives.
  const predicted = await sys.api.get<{ label: string; confidence: number }>(`/predict/${id}`, {
    token: user.accessToken,
  });
  expect(res.body.predicted).toMatchObject({ label: predicted.body.label, confidence: predicted.body.confidence });
});

test('the last answer wins: one record per image, its first date kept', async () => {
  const { user, id, sha256 } = await userWithImage('open-1.jpg');
  expect((await tell(id, user.accessToken, { label: 'closed' })).status).toBe(200);
  const [first] = await listedFor(id);
  const second = await tell(id, user.accessToken, { label: 'open' });
  expect(second.body).toMatchObject({ label: 'open', predicted: { label: 'open' } });
  const listed = await listedFor(id);
  expect(listed).toEqual([
    {
      imageId: id,
      userId: user.id,
      sha256,
      label: 'open',
      predicted: second.body.predicted,
      createdAt: first!.createdAt,
      updatedAt: expect.any(String),
    },
  ]);
  expect(Date.parse(listed[0]!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(first!.updatedAt));
});

test('a token traded for an API key may give feedback too', async () => {
  const { user, id } = await userWithImage();
  const keyToken = await sys.tokenFor({ userId: user.id, role: 'user', apiKeyId: newId<ApiKeyId>() });
  const res = await tell(id, keyToken, { label: 'closed' });
  expect(res.status).toBe(200);
  expect(res.body.label).toBe('closed');
});

test.each([
  ['an unknown label', { label: 'ajar' }, 'unknown_label'],
  ['a label in the wrong case', { label: 'Open' }, 'unknown_label'],
  ['no label', {}, 'invalid_request'],
  ['a label that is not a string', { label: 1 }, 'invalid_request'],
  ['an extra field', { label: 'open', note: 'x' }, 'invalid_request'],
  ['an array', ['open'], 'invalid_request'],
])('%s is a 400 in JSON, and nothing is stored', async (_what, body, code) => {
  const { user, id } = await userWithImage();
  const res = await tell(id, user.accessToken, body);
  expect(res.status).toBe(400);
  expect(res.body).toMatchObject({ error: { code, message: expect.any(String) } });
  expect(await sys.store.feedback.find(id as never)).toBeNull();
});

test('a body that is not JSON is a 400 in JSON; no token is a 401', async () => {
  const { user, id } = await userWithImage();
  const garbled = await sys.api.put(`/predict/${id}/feedback`, { token: user.accessToken, rawBody: '{"label": ' });
  expect(garbled.status).toBe(400);
  expect(garbled.body).toMatchObject({ error: { code: 'invalid_json' } });
  const anonymous = await tell(id, undefined, { label: 'open' });
  expect(anonymous.status).toBe(401);
  expect(await sys.store.feedback.find(id as never)).toBeNull();
});

test("another user's image, an unknown id, a malformed id and a deleted image are the same 404", async () => {
  const { user, id } = await userWithImage();
  const intruder = await sys.signUp();
  for (const [target, token] of [
    [id, intruder.accessToken],
    [randomUUID(), user.accessToken],
    ['not-an-id', user.accessToken],
  ] as const) {
    const res = await tell(target, token, { label: 'open' });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: 'image not found' } });
  }
  expect(await sys.store.feedback.find(id as never)).toBeNull();
  await sys.images.api.delete(`/images/${id}`, { token: user.accessToken });
  expect((await tell(id, user.accessToken, { label: 'open' })).status).toBe(404);
});

test('deleting the image deletes its feedback (image.deleted), end to end', async () => {
  const { user, id } = await userWithImage();
  expect((await tell(id, user.accessToken, { label: 'open' })).status).toBe(200);
  expect(await listedFor(id)).toHaveLength(1);
  expect((await sys.images.api.delete(`/images/${id}`, { token: user.accessToken })).status).toBe(204);
  await waitFor('the feedback to go with its image', async () =>
    (await listedFor(id)).length === 0 ? true : undefined,
  );
  expect(await sys.store.feedback.find(id as never)).toBeNull();
});

test('capcheck_feedback_total counts each answer by label, agreement and model version', async () => {
  const { user, id } = await userWithImage('closed-2.jpg');
  const version = served.version;
  const disagreed = { label: 'open', agreed: 'false', model_version: version };
  const agreed = { label: 'closed', agreed: 'true', model_version: version };
  const before = { disagreed: await feedbackCount(disagreed), agreed: await feedbackCount(agreed) };
  await tell(id, user.accessToken, { label: 'open' });
  await tell(id, user.accessToken, { label: 'closed' });
  await tell(id, user.accessToken, { label: 'ajar' }); // refused: not counted
  expect(await feedbackCount(disagreed)).toBe(before.disagreed + 1);
  expect(await feedbackCount(agreed)).toBe(before.agreed + 1);
});

describe('GET /admin/api/feedback', () => {
  test('admins only: a user is 403, no token 401', async () => {
    const user = await sys.signUp();
    expect((await sys.api.get('/admin/api/feedback', { token: user.accessToken })).status).toBe(403);
    expect((await sys.api.get('/admin/api/feedback')).status).toBe(401);
  });

  test('filters by label, pages newest answer first', async () => {
    const answers: { id: string; label: string }[] = [];
    for (const label of ['open', 'closed', 'open']) {
      const { user, id } = await userWithImage();
      expect((await tell(id, user.accessToken, { label })).status).toBe(200);
      answers.push({ id, label });
    }
    const mine = new Set(answers.map((a) => a.id));
    const openOnly = await sys.api.get<AdminPage>('/admin/api/feedback?label=open&limit=500', {
      token: admin.accessToken,
    });
    expect(openOnly.body.items.every((f) => f.label === 'open')).toBe(true);
    expect(openOnly.body.items.filter((f) => mine.has(f.imageId)).map((f) => f.imageId)).toEqual([
      answers[2]!.id,
      answers[0]!.id,
    ]);
    // One at a time through every answer, following the cursor: ours come newest first.
    const seen: string[] = [];
    let cursor = '';
    do {
      const page = await sys.api.get<AdminPage>(`/admin/api/feedback?limit=1&label=&cursor=${cursor}`, {
        token: admin.accessToken,
      });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.items.map((f) => f.imageId));
      cursor = page.body.nextCursor ?? '';
    } while (cursor);
    expect(seen.filter((s) => mine.has(s))).toEqual(answers.map((a) => a.id).reverse());
  });

  test.each([
    ['an unknown label', 'label=ajar', 'unknown_label'],
    ['a cursor it did not give', 'cursor=not-a-cursor', 'invalid_request'],
    ['a limit over 500', 'limit=501', 'invalid_request'],
  ])('%s is a 400', async (_what, query, code) => {
    const res = await sys.api.get(`/admin/api/feedback?${query}`, { token: admin.accessToken });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code } });
  });
});
