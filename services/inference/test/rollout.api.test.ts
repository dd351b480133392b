// Rollout of model versions: PUT/GET /admin/api/models/:name/rollout, shadow, canary, full, rollback,
// a restart, and two processes that share one store and model folder.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canaryBucket } from '@capcheck/inference';
import { startInference, type InferenceSystem, type TestUser } from '../../../test-support/services';
import { uploadFile } from '../../../test-support/http';
import { waitFor } from '../../../test-support/poll';
import { addModelVersion, modelName, samplePicture } from '../../../test-support/models';

interface Prediction {
  imageId: string | null;
  label: string;
  model: { name: string; version: string };
}
interface Rollout {
  name: string;
  current: string;
  candidate: { version: string; mode: string; percent: number | null } | null;
  updatedAt: string | null;
  updatedBy: string | null;
}
interface LogEntry {
  imageSha256: string;
  label: string;
  modelVersion: string;
  shadowModelVersion: string | null;
  shadowLabel: string | null;
  shadowConfidence: number | null;
}

const rolloutPath = `/admin/api/models/${modelName}/rollout`;

/** A data folder whose adapted models (`<DATA_DIR>/models`) hold version 7, a copy of the shipped 2. */
function dataDirWithVersion7(): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'capcheck-rollout-'));
  addModelVersion(join(dataDir, 'models'), '7');
  return dataDir;
}

/**
 * The same pixels, other bytes: a JPEG comment segment makes each picture new (its own sha256).
 * A fixed tag makes the same bytes on every run (the canary split is then the same every run).
 */
let pictures = 0;
const freshPicture = (file = 'open-1.jpg', tag = `rollout ${process.pid} ${++pictures}`) => {
  const bytes = samplePicture(file);
  const text = Buffer.from(tag);
  const head = Buffer.from([0xff, 0xfe, 0, text.length + 2]);
  return Buffer.concat([bytes.subarray(0, 2), head, text, bytes.subarray(2)]);
};

const postPicture = async (sys: InferenceSystem, token: string, bytes: Buffer) => {
  const res = await uploadFile(sys.baseUrl, token, { bytes, filename: 'frame.jpg' }, { path: '/predict' });
  expect(res.status).toBe(200);
  return res.body as unknown as Prediction;
};

const putRollout = (sys: InferenceSystem, token: string | undefined, json: unknown, path = rolloutPath) =>
  sys.api.put<Rollout & { error?: { code: string; message: string } }>(path, { token, json });

const modelsOf = async (sys: InferenceSystem, token: string) =>
  (
    await sys.api.get<{ items: { version: string }[]; rollout: { current: string; candidate: unknown } }>('/models', {
      token,
    })
  ).body;

describe('rollout API on one process', () => {
  let sys: InferenceSystem;
  let admin: TestUser;
  let user: TestUser;
  beforeAll(async () => {
    const dataDir = dataDirWithVersion7();
    // Version 5 exists but does not load: its manifest names a file that is not there.
    addModelVersion(join(dataDir, 'models'), '5', { edit: (m) => ({ ...m, file: 'gone.onnx' }) });
    sys = await startInference({ DATA_DIR: dataDir });
    admin = await sys.signUp('admin');
    user = await sys.signUp();
  });
  afterAll(() => sys.close());
  // Each test starts from the shipped version served alone.
  afterEach(async () => {
    expect((await putRollout(sys, admin.accessToken, { version: '2', mode: 'full' })).status).toBe(200);
  });

  test('with no rollout stored, GET says the configured (newest shipped) version is served, not the newer adapted one', async () => {
    const fresh = await startInference({ DATA_DIR: dataDirWithVersion7() });
    try {
      const token = (await fresh.signUp('admin')).accessToken;
      const res = await fresh.api.get<Rollout>(rolloutPath, { token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ name: modelName, current: '2', candidate: null, updatedAt: null, updatedBy: null });
      expect((await modelsOf(fresh, token)).rollout).toEqual({ current: '2', candidate: null });
    } finally {
      await fresh.close();
    }
  });

  test('admin only: no token is 401, a user is 403, for GET and PUT', async () => {
    expect((await sys.api.get(rolloutPath)).status).toBe(401);
    expect((await sys.api.get(rolloutPath, { token: user.accessToken })).status).toBe(403);
    expect((await putRollout(sys, undefined, { version: '7', mode: 'full' })).status).toBe(401);
    expect((await putRollout(sys, user.accessToken, { version: '7', mode: 'full' })).status).toBe(403);
    expect((await modelsOf(sys, user.accessToken)).items[0]?.version).toBe('2');
  });

  test('bad input is a 400 naming the field; unknown names and versions are 404; an unloadable version is 422', async () => {
    const token = admin.accessToken;
    for (const body of [
      {},
      { version: '7' },
      { version: '7', mode: 'sideways' },
      { version: '7', mode: 'canary' },
      { version: '7', mode: 'canary', percent: 101 },
      { version: '7', mode: 'canary', percent: -1 },
      { version: '7', mode: 'canary', percent: 12.5 },
      { version: '7', mode: 'shadow', percent: 10 },
      { version: '../2', mode: 'full' },
      { version: 3, mode: 'full' },
    ]) {
      const res = await putRollout(sys, token, body);
      expect([body, res.status, res.body.error?.code]).toEqual([body, 400, 'invalid_request']);
    }
    const unknownVersion = await putRollout(sys, token, { version: '99', mode: 'full' });
    expect([unknownVersion.status, unknownVersion.body.error?.code]).toEqual([404, 'version_not_found']);
    expect(
      (await putRollout(sys, token, { version: '7', mode: 'full' }, '/admin/api/models/other/rollout')).status,
    ).toBe(404);
    expect((await sys.api.get('/admin/api/models/other/rollout', { token })).status).toBe(404);
    const broken = await putRollout(sys, token, { version: '5', mode: 'shadow' });
    expect(broken.status).toBe(422);
    expect(broken.body.error).toMatchObject({ code: 'model_not_loadable' });
    expect(broken.body.error?.message).toMatch(/version 5 does not load: model file not found: .*5\/gone\.onnx/);
    const sameAsCurrent = await putRollout(sys, token, { version: '2', mode: 'canary', percent: 10 });
    expect(sameAsCurrent.status).toBe(409);
    // Nothing refused was stored or served.
    expect((await sys.api.get<Rollout>(rolloutPath, { token })).body).toMatchObject({ current: '2', candidate: null });
  });

  test('shadow: the user sees the current version; the candidate answer is logged beside it and counted', async () => {
    const res = await putRollout(sys, admin.accessToken, { version: '7', mode: 'shadow' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: modelName,
      current: '2',
      candidate: { version: '7', mode: 'shadow', percent: null },
      updatedBy: admin.id,
    });
    expect(Date.parse(res.body.updatedAt!)).not.toBeNaN();
    expect((await sys.api.get(rolloutPath, { token: admin.accessToken })).body).toEqual(res.body);
    expect((await modelsOf(sys, user.accessToken)).rollout).toEqual({
      current: '2',
      candidate: { version: '7', mode: 'shadow', percent: null },
    });

    const sent = await postPicture(sys, user.accessToken, freshPicture('closed-1.jpg'));
    expect(sent.model.version).toBe('2');
    const uploaded = await uploadFile(sys.images.baseUrl, user.accessToken, { bytes: freshPicture('open-2.jpg') });
    const stored = await sys.api.get<Prediction>(`/predict/${String(uploaded.body.id)}`, { token: user.accessToken });
    expect(stored.body).toMatchObject({ label: 'open', model: { version: '2' } });

    const logs = await waitFor('both shadow answers in the prediction log', async () => {
      const page = await sys.api.get<{ items: LogEntry[] }>('/admin/api/prediction-logs?limit=500', {
        token: admin.accessToken,
      });
      const mine = page.body.items.filter((l) => l.shadowModelVersion !== null);
      return mine.length >= 2 ? mine : null;
    });
    for (const log of logs.slice(0, 2)) {
      expect(log).toMatchObject({ modelVersion: '2', shadowModelVersion: '7', shadowLabel: log.label });
      expect(log.shadowConfidence).toBeGreaterThan(0.5);
    }
    const metrics = await (await fetch(`${sys.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/capcheck_shadow_predictions_total\{model_version="7",agreed="true"\} [1-9]/);
    expect(metrics).toContain('capcheck_model_version_served{model="bottle-state",version="7",role="shadow"} 1');
  });

  test('canary: percent of pictures, sticky per picture, are answered by the candidate', async () => {
    const percent = 30;
    expect((await putRollout(sys, admin.accessToken, { version: '7', mode: 'canary', percent })).status).toBe(200);
    const sent = Array.from({ length: 200 }, (_, i) => freshPicture('open-1.jpg', `canary picture ${i}`));
    const answers: Prediction[] = [];
    for (let i = 0; i < sent.length; i += 20) {
      answers.push(...(await Promise.all(sent.slice(i, i + 20).map((b) => postPicture(sys, user.accessToken, b)))));
    }
    const byCandidate = answers.filter((a) => a.model.version === '7').length;
    expect(Math.abs((byCandidate / answers.length) * 100 - percent)).toBeLessThanOrEqual(10);
    expect(answers.every((a) => a.label === 'open')).toBe(true);
    // Exactly the pictures whose sha256 falls in the first `percent` of 100 buckets.
    const expected = sent.map((b) =>
      canaryBucket(createHash('sha256').update(b).digest('hex')) < percent ? '7' : '2',
    );
    expect(answers.map((a) => a.model.version)).toEqual(expected);
    // Sticky: the same pictures are answered by the same versions again.
    const again = await Promise.all(sent.slice(0, 20).map((b) => postPicture(sys, user.accessToken, b)));
    expect(again.map((a) => a.model.version)).toEqual(answers.slice(0, 20).map((a) => a.model.version));
  });

  test('canary of a stored image is decided by its id', async () => {
    expect((await putRollout(sys, admin.accessToken, { version: '7', mode: 'canary', percent: 50 })).status).toBe(200);
    const uploaded = await uploadFile(sys.images.baseUrl, user.accessToken, { bytes: freshPicture() });
    const id = String(uploaded.body.id);
    const answer = await sys.api.get<Prediction>(`/predict/${id}`, { token: user.accessToken });
    expect(answer.body.model.version).toBe(canaryBucket(id) < 50 ? '7' : '2');
  });

  test('full switches the served version; rolling back is a full rollout of the previous one', async () => {
    const full = await putRollout(sys, admin.accessToken, { version: '7', mode: 'full' });
    expect(full.body).toMatchObject({ current: '7', candidate: null });
    const models = await modelsOf(sys, user.accessToken);
    expect(models.items[0]?.version).toBe('7');
    expect(models.rollout).toEqual({ current: '7', candidate: null });
    expect((await postPicture(sys, user.accessToken, freshPicture())).model.version).toBe('7');
    const metrics = await (await fetch(`${sys.baseUrl}/metrics`)).text();
    expect(metrics).toContain('capcheck_model_version_served{model="bottle-state",version="7",role="current"} 1');
    expect(metrics).not.toContain('version="2",role="current"');
    // The new current version's feedback series start at 0, so the first answer on it is counted.
    expect(metrics).toContain('capcheck_feedback_total{label="open",agreed="false",model_version="7"} 0');

    const back = await putRollout(sys, admin.accessToken, { version: '2', mode: 'full' });
    expect(back.body).toMatchObject({ current: '2', candidate: null });
    expect((await postPicture(sys, user.accessToken, freshPicture())).model.version).toBe('2');
  });
});

test('a restart keeps the rollout (same DATA_DIR)', async () => {
  const dataDir = dataDirWithVersion7();
  const first = await startInference({ DATA_DIR: dataDir });
  try {
    const token = (await first.signUp('admin')).accessToken;
    expect((await putRollout(first, token, { version: '7', mode: 'canary', percent: 40 })).status).toBe(200);
  } finally {
    await first.close();
  }
  const second = await startInference({ DATA_DIR: dataDir });
  try {
    const token = (await second.signUp('admin')).accessToken;
    expect((await modelsOf(second, token)).rollout).toEqual({
      current: '2',
      candidate: { version: '7', mode: 'canary', percent: 40 },
    });
    expect((await putRollout(second, token, { version: '7', mode: 'full' })).status).toBe(200);
  } finally {
    await second.close();
  }
  const third = await startInference({ DATA_DIR: dataDir });
  try {
    const token = (await third.signUp()).accessToken;
    expect(await modelsOf(third, token)).toMatchObject({
      items: [{ version: '7' }],
      rollout: { current: '7', candidate: null },
    });
  } finally {
    await third.close();
  }
});

test('two processes sharing one store and model folder follow the same rollout within seconds', async () => {
  const dataDir = dataDirWithVersion7();
  const env = { DATA_DIR: dataDir, ROLLOUT_POLL_MS: '100' };
  const a = await startInference(env);
  const b = await startInference(env);
  try {
    const adminA = (await a.signUp('admin')).accessToken;
    const userB = (await b.signUp()).accessToken;
    const follows = (expected: unknown) =>
      waitFor(`process b to serve ${JSON.stringify(expected)}`, async () => {
        const { rollout } = await modelsOf(b, userB);
        return JSON.stringify(rollout) === JSON.stringify(expected) ? rollout : null;
      });

    expect((await putRollout(a, adminA, { version: '7', mode: 'shadow' })).status).toBe(200);
    await follows({ current: '2', candidate: { version: '7', mode: 'shadow', percent: null } });

    expect((await putRollout(a, adminA, { version: '7', mode: 'full' })).status).toBe(200);
    await follows({ current: '7', candidate: null });
    expect((await postPicture(b, userB, freshPicture())).model.version).toBe('7');

    expect((await putRollout(a, adminA, { version: '2', mode: 'full' })).status).toBe(200);
    await follows({ current: '2', candidate: null });
    expect((await postPicture(b, userB, freshPicture())).model.version).toBe('2');
  } finally {
    await b.close();
    await a.close();
  }
});

test('a full rollout brings back a process whose configured version did not load', async () => {
  const sys = await startInference({ MODEL_VERSION: '999' });
  try {
    const admin = (await sys.signUp('admin')).accessToken;
    expect((await sys.api.get('/readyz')).status).toBe(503);
    // A candidate needs a current version to stand beside: there is none yet.
    expect((await putRollout(sys, admin, { version: '1', mode: 'shadow' })).status).toBe(503);
    const res = await putRollout(sys, admin, { version: '2', mode: 'full' });
    expect([res.status, res.body.current]).toEqual([200, '2']);
    expect((await sys.api.get('/readyz')).status).toBe(200);
    expect((await modelsOf(sys, admin)).items[0]?.version).toBe('2');
  } finally {
    await sys.close();
  }
});
