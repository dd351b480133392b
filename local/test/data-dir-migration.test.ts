import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { inferenceSchema } from '@capcheck/inference';
import { signUp, startLocal } from '../../test-support/local';
import { uploadFile } from '../../test-support/http';
import { writeLegacyDataDir } from '../../test-support/legacy-data-dir';
import { password } from '../../test-support/services';
import { jpeg } from '../../test-support/images';
import { servedModel } from '../../test-support/models';

test('a DATA_DIR from before per-service schemas is taken over on start, and nothing in it is lost', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'capcheck-legacy-'));
  const { version } = await servedModel();
  // A verdict the model would not give, so a cached answer can only come from the old file.
  const legacy = await writeLegacyDataDir(dataDir, await jpeg(), { label: 'from-the-old-file', modelVersion: version });

  const sys = await startLocal({}, {}, dataDir);
  try {
    const login = await sys.api.post<{ accessToken: string }>('/auth/login', {
      json: { email: legacy.admin.email, password },
    });
    expect(login.status).toBe(200);
    const token = login.body.accessToken;
    expect((await sys.api.get('/users/me', { token })).body).toMatchObject({ id: legacy.admin.id, role: 'admin' });
    const keys = await sys.api.get<{ items: { id: string }[] }>('/users/me/api-keys', { token });
    expect(keys.body.items.map((k) => k.id)).toEqual([legacy.apiKey.id]);
    expect((await sys.api.post('/auth/token', { headers: { 'x-api-key': legacy.apiKey.key } })).status).toBe(200);

    const images = await sys.api.get<{ items: { id: string; sha256: string }[] }>('/images', { token });
    expect(images.body.items).toEqual([expect.objectContaining({ id: legacy.image.id, sha256: legacy.image.sha256 })]);
    const content = await fetch(`${sys.baseUrl}/images/${legacy.image.id}/content`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(Buffer.from(await content.arrayBuffer()).equals(legacy.image.bytes)).toBe(true);

    const predicted = await sys.api.get(`/predict/${legacy.image.id}`, { token });
    expect(predicted.body).toMatchObject({ label: 'from-the-old-file', cached: true });
    const logs = await sys.api.get<{ items: { id: string }[] }>(
      `/admin/api/prediction-logs?label=from-the-old-file&limit=10`,
      { token },
    );
    expect(logs.body.items.map((l) => l.id)).toContain(legacy.logId);
  } finally {
    await sys.close();
  }

  const file = new Database(join(dataDir, 'capcheck.sqlite'), { readonly: true });
  try {
    expect(file.prepare('SELECT service, version FROM schema_migrations ORDER BY service').all()).toEqual([
      { service: 'images', version: 2 },
      // Every step ran: step 2 rebuilt prediction_logs (image_id may be NULL), and the old log above
      // came through it; the later steps added feedback, rollouts (and the shadow columns of
      // prediction_logs) and adaptations.
      { service: 'inference', version: inferenceSchema.migrations.length },
      { service: 'users', version: 1 },
    ]);
    expect(file.prepare('SELECT COUNT(*) AS n FROM refresh_tokens').get()).toEqual({ n: 2 });
    // Images step 2 counted the old image's bytes, so a delete of a twin of them would keep its blob.
    expect(file.prepare('SELECT sha256, refs FROM image_blob_refs').all()).toEqual([
      { sha256: legacy.image.sha256, refs: 1 },
    ]);
  } finally {
    file.close();
  }
});

test('a new DATA_DIR gets one SQLite file per service, each holding its own schema alone', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'capcheck-new-'));
  const sys = await startLocal({}, {}, dataDir);
  try {
    const user = await signUp(sys.api, `new-data-dir-${Date.now()}@example.test`);
    const image = await uploadFile(sys.baseUrl, user.accessToken, { bytes: await jpeg(), filename: 'frame.jpg' });
    expect(image.status).toBe(201);
    const id = (image.body as { id: string }).id;
    expect((await sys.api.get(`/predict/${id}`, { token: user.accessToken })).status).toBe(200);
  } finally {
    await sys.close();
  }
  expect(existsSync(join(dataDir, 'capcheck.sqlite'))).toBe(false);
  for (const service of ['users', 'images', 'inference']) {
    const file = new Database(join(dataDir, `${service}.sqlite`), { readonly: true });
    try {
      expect(file.prepare('SELECT service FROM schema_migrations').all()).toEqual([{ service }]);
    } finally {
      file.close();
    }
  }
});
