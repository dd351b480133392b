import { startInference } from '../../../test-support/services';
import { uploadFile } from '../../../test-support/http';
import { samplePicture, servedModel } from '../../../test-support/models';

test('MODEL_VERSION pins an older shipped version: a rollback is a setting, not a rebuild', async () => {
  const newest = await servedModel();
  expect(newest.version).not.toBe('1');
  const sys = await startInference({ MODEL_VERSION: '1' });
  try {
    const user = await sys.signUp();
    const models = await sys.api.get('/models', { token: user.accessToken });
    expect(models.body).toMatchObject({
      status: 'ready',
      items: [{ name: 'bottle-state', version: '1', input: { shape: [null, 128, 128, 3] } }],
    });
    const uploaded = await uploadFile(sys.images.baseUrl, user.accessToken, { bytes: samplePicture('open-1.jpg') });
    const predicted = await sys.api.get(`/predict/${String(uploaded.body.id)}`, { token: user.accessToken });
    expect(predicted.body).toMatchObject({ label: 'open', model: { name: 'bottle-state', version: '1' } });
  } finally {
    await sys.close();
  }
});
