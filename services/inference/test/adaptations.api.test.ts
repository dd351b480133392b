import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { createInferencePool, preprocess, readModelManifest } from '@capcheck/inference';
import { startInference, type InferenceSystem, type TestUser } from '../../../test-support/services';
import { uploadFile } from '../../../test-support/http';
import { waitFor } from '../../../test-support/poll';
import { samplePicture, servedModel } from '../../../test-support/models';

interface Adaptation {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  model: { name: string; parentVersion: string };
  version?: string;
  examples: { train: number; heldOut: number } | null;
  metrics?: { candidate: { accuracy: number }; current: { accuracy: number } };
  error?: string;
}

const adaptationsPath = '/admin/api/models/bottle-state/adaptations';

/** A distinct picture (its own sha256) that still looks like the sample it comes from. */
const variant = (file: string, i: number) =>
  sharp(samplePicture(file))
    .modulate({ brightness: 0.85 + i * 0.03 })
    .jpeg({ quality: 90 })
    .toBuffer();

/** Uploads `count` variants of a sample picture as one user, and says each shows `label`. */
async function labelled(sys: InferenceSystem, user: TestUser, file: string, label: string, count: number) {
  for (let i = 0; i < count; i++) {
    const bytes = await variant(file, i);
    const up = await uploadFile(sys.images.baseUrl, user.accessToken, { bytes, filename: `${label}-${i}.jpg` });
    expect(up.status).toBe(201);
    const said = await sys.api.put(`/predict/${String(up.body.id)}/feedback`, {
      token: user.accessToken,
      json: { label },
    });
    expect(said.status).toBe(200);
  }
}

const finished = (sys: InferenceSystem, admin: TestUser, id: string) =>
  waitFor(
    `adaptation ${id} to finish`,
    async () => {
      const res = await sys.api.get<Adaptation>(`${adaptationsPath}/${id}`, { token: admin.accessToken });
      expect(res.status).toBe(200);
      return res.body.status === 'succeeded' || res.body.status === 'failed' ? res.body : null;
    },
    { timeoutMs: 60_000 },
  );

describe('adapting the served model to labelled feedback', () => {
  let sys: InferenceSystem;
  let admin: TestUser;
  beforeAll(async () => {
    sys = await startInference();
    admin = await sys.signUp('admin');
  });
  afterAll(() => sys.close());

  test('too few labelled pictures: 422 saying how many more of each label are needed', async () => {
    const user = await sys.signUp();
    await labelled(sys, user, 'closed-1.jpg', 'closed', 5);
    await labelled(sys, user, 'open-1.jpg', 'open', 2);
    const res = await sys.api.post<{ error: { code: string; message: string } }>(adaptationsPath, {
      token: admin.accessToken,
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('too_few_examples');
    expect(res.body.error.message).toContain('open: 2 (3 more needed)');
    expect(res.body.error.message).not.toContain('closed:');
  });

  test('202 queued, then succeeded: a complete new version, held-out metrics, not served until rolled out', async () => {
    const user = await sys.signUp();
    await labelled(sys, user, 'closed-2.jpg', 'closed', 3);
    await labelled(sys, user, 'open-2.jpg', 'open', 6);
    const started = await sys.api.post<Adaptation>(adaptationsPath, { token: admin.accessToken });
    expect(started.status).toBe(202);
    expect(started.headers.get('location')).toBe(`${adaptationsPath}/${started.body.id}`);
    expect(started.body).toMatchObject({ status: 'queued', model: { name: 'bottle-state', parentVersion: '2' } });

    const done = await finished(sys, admin, started.body.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('succeeded');
    // 8 closed (5 + 3) and 8 open (2 + 6): a quarter of each held out.
    expect(done.examples).toEqual({ train: 12, heldOut: 4 });
    expect(done.metrics!.candidate.accuracy).toBeGreaterThanOrEqual(0.75);
    expect(done.metrics!.current.accuracy).toBeGreaterThanOrEqual(0);
    // The next number after every version there is (shipped 1-4).
    expect(done.version).toBe('5');

    // The version is whole: its manifest checks out against its ONNX file, and it records its lineage.
    const adaptedDir = sys.inference.folders.adapted;
    const manifest = await readModelManifest(adaptedDir, 'bottle-state', done.version!);
    expect(manifest).toMatchObject({ labels: ['closed', 'open'], embedding: { name: 'embedding', size: 256 } });
    // ...and runs: the same embedding as its parent, its own probabilities.
    const parent = await servedModel();
    const pixels = await preprocess(samplePicture('open-1.jpg'), manifest, 40_000_000);
    const telemetry = { batch: () => undefined, queueDepth: () => undefined };
    const [child, original] = await Promise.all(
      [manifest, parent].map((model) =>
        createInferencePool({ model, maxImagePixels: 40e6, workers: 1, maxBatch: 1, maxQueue: 4, telemetry }),
      ),
    );
    try {
      const [[mine], [theirs]] = await Promise.all([child!.outputsOf([pixels]), original!.outputsOf([pixels])]);
      expect(Array.from(mine!.embedding!)).toEqual(Array.from(theirs!.embedding!));
      expect(mine!.scores[0]! + mine!.scores[1]!).toBeCloseTo(1, 5);
      expect(Array.from(mine!.scores)).not.toEqual(Array.from(theirs!.scores));
    } finally {
      await Promise.all([child!.close(), original!.close()]);
    }

    // Not served: /models still names the parent.
    const models = await sys.api.get<{ items: { version: string }[] }>('/models', { token: admin.accessToken });
    expect(models.body.items[0]!.version).toBe('2');
    const listed = await sys.api.get<{ items: Adaptation[] }>(adaptationsPath, { token: admin.accessToken });
    expect(listed.body.items.map((a) => a.id)).toContain(started.body.id);

    // Rolled out in full, it answers; rolled back, the parent does again.
    const rollout = (version: string) =>
      sys.api.put('/admin/api/models/bottle-state/rollout', {
        token: admin.accessToken,
        json: { version, mode: 'full' },
      });
    expect((await rollout(done.version!)).status).toBe(200);
    const upload = await uploadFile(sys.images.baseUrl, user.accessToken, {
      bytes: await variant('open-1.jpg', 9),
      filename: 'after.jpg',
    });
    const answer = await sys.api.get<{ model: { version: string } }>(`/predict/${String(upload.body.id)}`, {
      token: user.accessToken,
    });
    expect(answer.body.model.version).toBe(done.version);
    expect((await rollout('2')).status).toBe(200);
    const again = await sys.api.get<{ model: { version: string } }>(`/predict/${String(upload.body.id)}`, {
      token: user.accessToken,
    });
    expect(again.body.model.version).toBe('2');
  });

  test('one at a time: a second request while one is queued or running is a 409', async () => {
    const [a, b] = await Promise.all([
      sys.api.post<Adaptation>(adaptationsPath, { token: admin.accessToken }),
      sys.api.post<Adaptation>(adaptationsPath, { token: admin.accessToken }),
    ]);
    expect([a.status, b.status].sort()).toEqual([202, 409]);
    const accepted = a.status === 202 ? a : b;
    const refused = a.status === 202 ? b : a;
    expect(refused.body).toMatchObject({ error: { code: 'adaptation_running' } });
    expect((await finished(sys, admin, accepted.body.id)).status).toBe('succeeded');
  });

  test('admins only; an unknown model or adaptation is a 404', async () => {
    const user = await sys.signUp();
    expect((await sys.api.post(adaptationsPath, {})).status).toBe(401);
    expect((await sys.api.post(adaptationsPath, { token: user.accessToken })).status).toBe(403);
    expect((await sys.api.get(`${adaptationsPath}/${randomUUID()}`, { token: user.accessToken })).status).toBe(403);
    expect((await sys.api.post('/admin/api/models/other-model/adaptations', { token: admin.accessToken })).status).toBe(
      404,
    );
    expect((await sys.api.get(`${adaptationsPath}/${randomUUID()}`, { token: admin.accessToken })).status).toBe(404);
    expect((await sys.api.get(`${adaptationsPath}/not-an-id`, { token: admin.accessToken })).status).toBe(404);
  });
});

test('a served model without an embedding output cannot be adapted: 422 naming it', async () => {
  const sys = await startInference({ MODEL_VERSION: '1' });
  try {
    const admin = await sys.signUp('admin');
    const res = await sys.api.post<{ error: { code: string; message: string } }>(adaptationsPath, {
      token: admin.accessToken,
    });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'model_cannot_adapt' });
    expect(res.body.error.message).toContain('bottle-state/1');
  } finally {
    await sys.close();
  }
});
