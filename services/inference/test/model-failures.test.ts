import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInference } from '../../../test-support/services';
import { uploadFile } from '../../../test-support/http';
import { png } from '../../../test-support/images';
import { bundledModels, servedModel } from '../../../test-support/models';

let version: string;
beforeAll(async () => {
  version = (await servedModel()).version;
});

/**
 * A copy of the shipped model repository and the folder of the version it serves, to break in one way
 * or another. Older versions stay intact: a broken newest version must not quietly fall back to them.
 */
function modelDirCopy(): { dir: string; served: string } {
  const dir = mkdtempSync(join(tmpdir(), 'capcheck-models-'));
  cpSync(bundledModels, dir, { recursive: true });
  return { dir, served: join(dir, 'bottle-state', version) };
}

async function expectBrokenButAlive(modelDir: string, reason: RegExp, env: Record<string, string> = {}) {
  const sys = await startInference({ MODEL_DIR: modelDir, ...env });
  try {
    const ready = await sys.api.get<{ status: string; checks: Record<string, string> }>('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.model).toMatch(reason);
    expect(ready.body.checks.metadata).toBe('ok');
    expect((await sys.api.get('/healthz')).status).toBe(200);

    const user = await sys.signUp();
    const uploaded = await uploadFile(sys.images.baseUrl, user.accessToken, { bytes: await png() });
    expect(uploaded.status).toBe(201); // the rest of the system keeps working
    const predicted = await sys.api.get(`/predict/${String(uploaded.body.id)}`, { token: user.accessToken });
    expect(predicted.status).toBe(503);
    expect(predicted.body).toMatchObject({ error: { code: 'model_unavailable' } });
    expect(predicted.headers.get('retry-after')).toBeTruthy();
  } finally {
    await sys.close();
  }
}

test('a missing model folder: readiness fails naming it, the process stays up', async () => {
  await expectBrokenButAlive(mkdtempSync(join(tmpdir(), 'capcheck-empty-')), /model folder not found: .*bottle-state/);
});

test('a MODEL_VERSION that is not shipped: readiness names the manifest it looked for', async () => {
  await expectBrokenButAlive(bundledModels, /model manifest not found: .*bottle-state\/999\/manifest\.json/, {
    MODEL_VERSION: '999',
  });
});

test('a missing model file: readiness names the file', async () => {
  const { dir, served } = modelDirCopy();
  const manifest = JSON.parse(readFileSync(join(served, 'manifest.json'), 'utf8'));
  writeFileSync(join(served, 'manifest.json'), JSON.stringify({ ...manifest, file: 'gone.onnx' }));
  await expectBrokenButAlive(dir, new RegExp(`model file not found: .*bottle-state/${version}/gone\\.onnx`));
});

test('a model file that does not match its manifest sha256 is refused', async () => {
  const { dir, served } = modelDirCopy();
  const path = join(served, 'model.onnx');
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(path, bytes);
  await expectBrokenButAlive(dir, /does not match the sha256 in its manifest: .*model\.onnx/);
});

test('a corrupt model file (whose sha256 the manifest agrees with): onnxruntime refuses it, readiness names it', async () => {
  const { dir, served } = modelDirCopy();
  const path = join(served, 'model.onnx');
  const garbage = Buffer.from('this is not an ONNX model');
  writeFileSync(path, garbage);
  const manifestPath = join(served, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  writeFileSync(
    manifestPath,
    JSON.stringify({ ...manifest, sha256: createHash('sha256').update(garbage).digest('hex') }),
  );
  await expectBrokenButAlive(dir, /onnxruntime cannot load .*model\.onnx/);
});

test('an invalid manifest is named with the field at fault', async () => {
  const { dir, served } = modelDirCopy();
  const manifestPath = join(served, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  writeFileSync(manifestPath, JSON.stringify({ ...manifest, labels: ['only-one'] }));
  await expectBrokenButAlive(dir, /manifest is invalid: .*manifest\.json: labels/);
});

test('a resize recipe that cannot do what the manifest asks is named', async () => {
  const { dir, served } = modelDirCopy();
  const manifestPath = join(served, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const input = { ...manifest.input, resize: { ...manifest.input.resize, recipe: 'jpeg-scaled-area', fit: 'cover' } };
  writeFileSync(manifestPath, JSON.stringify({ ...manifest, input }));
  await expectBrokenButAlive(dir, /manifest\.json: the jpeg-scaled-area recipe only letterboxes/);
});
