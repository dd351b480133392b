import { startInference } from '../../../test-support/services';
import { uploadFile } from '../../../test-support/http';
import { modelsWithManifest, samplePicture } from '../../../test-support/models';

async function predictSample(modelDir: string, env: Record<string, string> = {}) {
  const sys = await startInference({ MODEL_DIR: modelDir, ...env });
  try {
    const user = await sys.signUp();
    const uploaded = await uploadFile(sys.images.baseUrl, user.accessToken, { bytes: samplePicture('closed-1.jpg') });
    const predicted = await sys.api.get<{ label: string; confidence: number; certain: boolean }>(
      `/predict/${String(uploaded.body.id)}`,
      { token: user.accessToken },
    );
    const models = await sys.api.get<{ items: { certaintyThreshold: number | null }[] }>('/models', {
      token: user.accessToken,
    });
    return { prediction: predicted.body, threshold: models.body.items[0]?.certaintyThreshold };
  } finally {
    await sys.close();
  }
}

test('a verdict below the manifest certainty_threshold is reported not certain; at or above it, certain', async () => {
  const strict = await predictSample(await modelsWithManifest((m) => ({ ...m, certainty_threshold: 0.999999999 })));
  expect(strict.threshold).toBe(0.999999999);
  expect(strict.prediction).toMatchObject({ label: 'closed', certain: false });
  expect(strict.prediction.confidence).toBeLessThan(0.999999999);

  const lenient = await predictSample(await modelsWithManifest((m) => ({ ...m, certainty_threshold: 0.5 })));
  expect(lenient.prediction).toMatchObject({ label: 'closed', certain: true });
});

test('a manifest without the calibration fields (versions 1 and 2) still loads; its verdicts claim certainty', async () => {
  const old = await predictSample(
    await modelsWithManifest(({ certainty_threshold: _t, embedding: _e, calibration: _c, ...rest }) => rest),
  );
  expect(old.threshold).toBeNull();
  expect(old.prediction).toMatchObject({ label: 'closed', certain: true });
});

test('a certainty_threshold outside (0, 1) is refused naming the field', async () => {
  const sys = await startInference({
    MODEL_DIR: await modelsWithManifest((m) => ({ ...m, certainty_threshold: 1.5 })),
  });
  try {
    const ready = await sys.api.get<{ checks: Record<string, string> }>('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.model).toMatch(/certainty_threshold/);
  } finally {
    await sys.close();
  }
});
