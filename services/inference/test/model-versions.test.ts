import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latestVersion, readModelManifest } from '@capcheck/inference';
import { startInference } from '../../../test-support/services';
import { uploadFile } from '../../../test-support/http';
import { bundledModels, modelName, samplePicture, servedModel } from '../../../test-support/models';

/** Every shipped version but the newest: each must stay servable, so a rollback is a setting. */
const olderVersions = async () => {
  const newest = (await servedModel()).version;
  return readdirSync(join(bundledModels, modelName)).filter((v) => /^\d+$/.test(v) && v !== newest);
};

test('MODEL_VERSION pins each older shipped version: a rollback is a setting, not a rebuild', async () => {
  const versions = await olderVersions();
  expect(versions).toContain('1');
  for (const version of versions) {
    const manifest = await readModelManifest(bundledModels, modelName, version);
    const sys = await startInference({ MODEL_VERSION: version });
    try {
      const user = await sys.signUp();
      const models = await sys.api.get('/models', { token: user.accessToken });
      expect(models.body).toMatchObject({
        status: 'ready',
        items: [{ name: modelName, version, input: { shape: [null, ...manifest.inputShape] } }],
      });
      const uploaded = await uploadFile(sys.images.baseUrl, user.accessToken, { bytes: samplePicture('open-1.jpg') });
      const predicted = await sys.api.get(`/predict/${String(uploaded.body.id)}`, { token: user.accessToken });
      expect(predicted.body).toMatchObject({ label: 'open', model: { name: modelName, version } });
    } finally {
      await sys.close();
    }
  }
});

test('a version whose manifest says "candidate": true is served only when MODEL_VERSION names it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capcheck-models-'));
  try {
    const manifest = JSON.parse(readFileSync(join(bundledModels, modelName, '2', 'manifest.json'), 'utf8')) as object;
    for (const [version, extra] of [
      ['7', {}],
      ['10', { candidate: true }],
    ] as const) {
      mkdirSync(join(dir, modelName, version), { recursive: true });
      writeFileSync(join(dir, modelName, version, 'manifest.json'), JSON.stringify({ ...manifest, version, ...extra }));
    }
    expect(await latestVersion(dir, modelName)).toBe('7');
    writeFileSync(join(dir, modelName, '10', 'manifest.json'), JSON.stringify({ ...manifest, version: '10' }));
    expect(await latestVersion(dir, modelName)).toBe('10');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
