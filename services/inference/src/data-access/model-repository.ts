import { createHash } from 'node:crypto';
import { existsSync, type Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ModelManifest } from '../domain/ports';

/** The parts of `<name>/<version>/manifest.json` that serving relies on; the rest is documentation. */
const manifestSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  labels: z.array(z.string().min(1)).min(2),
  file: z.string().regex(/^[\w.-]+\.onnx$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  input: z.object({
    name: z.string().min(1),
    dtype: z.literal('uint8'),
    layout: z.literal('NHWC'),
    shape: z.tuple([z.null(), z.number().int().positive(), z.number().int().positive(), z.literal(3)]),
    resize: z.object({
      width: z.number().int().positive(),
      height: z.number().int().positive(),
      fit: z.enum(['contain', 'cover', 'fill']),
      background: z.tuple([z.number(), z.number(), z.number()]).default([0, 0, 0]),
    }),
  }),
  output: z.object({ name: z.string().min(1) }),
  /** Calibrated models (v3 on) name the confidence below which a verdict is not certain; older ones do not. */
  certainty_threshold: z.number().gt(0).lt(1).optional(),
  /** The penultimate features, a second graph output (v3 on). */
  embedding: z.object({ name: z.string().min(1), size: z.number().int().positive() }).optional(),
  test_metrics: z.record(z.string(), z.unknown()).optional(),
});

/** A model that cannot be served, with a message that names the file at fault. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

/** Reads and checks `<dir>/<name>/<version>/manifest.json` and its ONNX file. */
export async function readModelManifest(modelDir: string, name: string, version: string): Promise<ModelManifest> {
  const folder = join(modelDir, name, version);
  const manifestPath = join(folder, 'manifest.json');
  let raw: string;
  try {
    raw = await readFile(manifestPath, 'utf8');
  } catch (err) {
    throw new ModelLoadError(`model manifest not found: ${manifestPath}`, { cause: err });
  }
  let parsed: z.output<typeof manifestSchema>;
  try {
    parsed = manifestSchema.parse(JSON.parse(raw));
  } catch (err) {
    const detail =
      err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : 'not JSON';
    throw new ModelLoadError(`model manifest is invalid: ${manifestPath}: ${detail}`);
  }
  if (parsed.name !== name || parsed.version !== version) {
    throw new ModelLoadError(
      `model manifest ${manifestPath} says ${parsed.name}/${parsed.version}, not ${name}/${version}`,
    );
  }
  const modelPath = join(folder, parsed.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(modelPath);
  } catch (err) {
    throw new ModelLoadError(`model file not found: ${modelPath}`, { cause: err });
  }
  if (createHash('sha256').update(bytes).digest('hex') !== parsed.sha256) {
    throw new ModelLoadError(`model file does not match the sha256 in its manifest: ${modelPath}`);
  }
  const [, height, width] = parsed.input.shape;
  if (parsed.input.resize.width !== width || parsed.input.resize.height !== height) {
    throw new ModelLoadError(`model manifest ${manifestPath}: resize does not match the input shape`);
  }
  return {
    name: parsed.name,
    version: parsed.version,
    labels: parsed.labels,
    inputName: parsed.input.name,
    outputName: parsed.output.name,
    certaintyThreshold: parsed.certainty_threshold ?? null,
    embedding: parsed.embedding ? { name: parsed.embedding.name, size: parsed.embedding.size } : null,
    inputShape: [height, width, 3],
    resize: parsed.input.resize,
    testMetrics: parsed.test_metrics ?? {},
    modelPath,
  };
}

/** A version whose manifest says `"candidate": true` is served only when MODEL_VERSION names it. */
async function isCandidate(manifestPath: string): Promise<boolean> {
  try {
    return (JSON.parse(await readFile(manifestPath, 'utf8')) as { candidate?: unknown }).candidate === true;
  } catch {
    return false; // an unreadable manifest is reported by readModelManifest, not here
  }
}

/**
 * The newest version folder of a model: a folder with a manifest (numeric versions compare as numbers),
 * skipping candidates (shipped for trying with MODEL_VERSION, not yet the default).
 */
export async function latestVersion(modelDir: string, name: string): Promise<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(join(modelDir, name), { withFileTypes: true });
  } catch (err) {
    throw new ModelLoadError(`model folder not found: ${join(modelDir, name)}`, { cause: err });
  }
  const withManifest = entries
    .filter((e) => e.isDirectory() && existsSync(join(modelDir, name, e.name, 'manifest.json')))
    .map((e) => e.name);
  const candidate = await Promise.all(withManifest.map((v) => isCandidate(join(modelDir, name, v, 'manifest.json'))));
  const versions = withManifest
    .filter((_, i) => !candidate[i])
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  const [newest] = versions;
  if (!newest) throw new ModelLoadError(`no version folder with a manifest.json in ${join(modelDir, name)}`);
  return newest;
}
