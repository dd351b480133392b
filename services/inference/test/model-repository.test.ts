// The model repository over two folders: the shipped MODEL_DIR and the writable ADAPTED_MODEL_DIR.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latestVersion, listVersions, nextVersion, readVersionManifest } from '@capcheck/inference';
import { addModelVersion, bundledModels, modelName } from '../../../test-support/models';

const tempDir = () => mkdtempSync(join(tmpdir(), 'capcheck-adapted-'));

test('versions are listed from both folders, newest first; the next version is one more than the largest', async () => {
  const adapted = tempDir();
  const folders = { shipped: bundledModels, adapted };
  expect(await listVersions(folders, modelName)).toEqual(['4', '3', '2', '1']);
  expect(await nextVersion(folders, modelName)).toBe('5');
  addModelVersion(adapted, '5');
  addModelVersion(adapted, '10');
  addModelVersion(adapted, 'experiment-a'); // not a number: listed, never counted for the next one
  expect(await listVersions(folders, modelName)).toEqual(['experiment-a', '10', '5', '4', '3', '2', '1']);
  expect(await nextVersion(folders, modelName)).toBe('11');
  // Shipped 3 and 4 are candidates ("candidate": true): the default is the newest shipped version that is not.
  expect(await latestVersion({ shipped: bundledModels, adapted: tempDir() }, modelName)).toBe('2');
  const manifest = await readVersionManifest(folders, modelName, '10');
  expect([manifest.version, manifest.modelPath]).toEqual(['10', join(adapted, modelName, '10', 'model.onnx')]);
});

test('a missing adapted folder is no error; a model with no version anywhere starts at 1', async () => {
  const folders = { shipped: tempDir(), adapted: join(tempDir(), 'not-there') };
  expect(await listVersions(folders, modelName)).toEqual([]);
  expect(await nextVersion(folders, modelName)).toBe('1');
  await expect(latestVersion(folders, modelName)).rejects.toThrow(/model folder not found/);
});

test('a version in both folders is read from the shipped one', async () => {
  const adapted = tempDir();
  addModelVersion(adapted, '2', { from: '1' });
  const manifest = await readVersionManifest({ shipped: bundledModels, adapted }, modelName, '2');
  expect(manifest.modelPath).toBe(join(bundledModels, modelName, '2', 'model.onnx'));
});
