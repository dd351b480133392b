import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { latestVersion, readModelManifest, type ModelManifest } from '@capcheck/inference';

/** The model repository that ships with capcheck. */
export const bundledModels = join(__dirname, '..', 'models');
export const modelName = 'bottle-state';

/** The newest shipped version: what the service serves when MODEL_VERSION is unset. */
export async function servedModel(): Promise<ModelManifest> {
  return readModelManifest(bundledModels, modelName, await latestVersion(bundledModels, modelName));
}

/**
 * The `sharp-lanczos3` recipe (v1 to v3: `input.resize.sharp_example` in their manifests), written out
 * here as sharp calls apart from the service's code: what a picture must become for those versions,
 * byte for byte, and the reference a newer recipe is compared with.
 */
export const sharpLanczos3Recipe = (bytes: Buffer, m: ModelManifest) =>
  sharp(bytes)
    .rotate()
    .flatten({ background: '#ffffff' })
    .resize(m.resize.width, m.resize.height, {
      fit: m.resize.fit,
      position: 'centre',
      background: { r: m.resize.background[0], g: m.resize.background[1], b: m.resize.background[2] },
    })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer();

/** A generated picture with a known label (`closed-1.jpg`, `open-2.jpg`, ...), shipped beside the model. */
export const samplePicture = (file: string) => readFileSync(join(bundledModels, modelName, 'samples', file));

/** A copy of the shipped model repository whose served version's manifest is changed by `edit`. */
export async function modelsWithManifest(
  edit: (manifest: Record<string, unknown>) => Record<string, unknown>,
): Promise<string> {
  const { version } = await servedModel();
  const dir = mkdtempSync(join(tmpdir(), 'capcheck-models-'));
  cpSync(bundledModels, dir, { recursive: true });
  const path = join(dir, modelName, version, 'manifest.json');
  writeFileSync(path, JSON.stringify(edit(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>)));
  return dir;
}

/**
 * A version as adaptation would write it: a copy of a shipped version under `<dir>/bottle-state/<version>`
 * (e.g. in a temp ADAPTED_MODEL_DIR, or `<DATA_DIR>/models`), its manifest saying the new version.
 * `edit` changes the manifest further (to make a version that does not load).
 */
export function addModelVersion(
  dir: string,
  version: string,
  options: { from?: string; edit?: (manifest: Record<string, unknown>) => Record<string, unknown> } = {},
): string {
  const target = join(dir, modelName, version);
  mkdirSync(join(dir, modelName), { recursive: true });
  cpSync(join(bundledModels, modelName, options.from ?? '2'), target, { recursive: true });
  const path = join(target, 'manifest.json');
  const manifest = { ...(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>), version };
  writeFileSync(path, JSON.stringify((options.edit ?? ((m) => m))(manifest)));
  return target;
}
