import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readModelManifest } from '@capcheck/inference';
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
