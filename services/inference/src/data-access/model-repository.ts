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
      recipe: z.enum(['sharp-lanczos3', 'jpeg-scaled-area']).default('sharp-lanczos3'),
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
  if (parsed.input.resize.recipe === 'jpeg-scaled-area' && parsed.input.resize.fit !== 'contain') {
    throw new ModelLoadError(
      `model manifest ${manifestPath}: the jpeg-scaled-area recipe only letterboxes (fit 'contain')`,
    );
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

/**
 * The model versions serving may use, over two folders: the shipped `MODEL_DIR` (read-only, part of
 * the image) and the writable `ADAPTED_MODEL_DIR` (versions made by adaptation, on a volume every
 * replica reads). A version is looked up in that order; version names are unique across both.
 */
export interface ModelFolders {
  /** The shipped models: `MODEL_DIR`. */
  shipped: string;
  /** Versions written at run time: `ADAPTED_MODEL_DIR`. */
  adapted: string;
}

/** A version folder name that cannot leave its model's folder (`..`, slashes). */
export const versionPattern = /^[\w-][\w.-]{0,63}$/;

/** The folders given, as a list: one folder (the shipped repository) or both, shipped first. */
const foldersOf = (dirs: string | ModelFolders): string[] =>
  typeof dirs === 'string' ? [dirs] : [dirs.shipped, dirs.adapted];

/** Version folders (with a manifest) of a model in one folder; none when the folder is missing. */
async function versionsIn(dir: string, name: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(join(dir, name), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory() && existsSync(join(dir, name, e.name, 'manifest.json')))
    .map((e) => e.name);
}

const newestFirst = (a: string, b: string) => b.localeCompare(a, 'en', { numeric: true });

/** Every version of a model in the folders, newest first (numeric versions compare as numbers). */
export async function listVersions(dirs: string | ModelFolders, name: string): Promise<string[]> {
  const all = await Promise.all(foldersOf(dirs).map((dir) => versionsIn(dir, name)));
  return [...new Set(all.flat())].sort(newestFirst);
}

/** A version whose manifest says `"candidate": true` is shipped to be tried (rollout, MODEL_VERSION), not served by default. */
async function isCandidate(manifestPath: string | undefined): Promise<boolean> {
  if (!manifestPath) return false;
  try {
    return (JSON.parse(await readFile(manifestPath, 'utf8')) as { candidate?: unknown }).candidate === true;
  } catch {
    return false; // an unreadable manifest is reported by readModelManifest, not here
  }
}

/**
 * The version a model serves by default: the newest folder with a manifest (numeric versions compare
 * as numbers), skipping candidates.
 */
export async function latestVersion(dirs: string | ModelFolders, name: string): Promise<string> {
  const versions = await listVersions(dirs, name);
  const manifestOf = (version: string) =>
    foldersOf(dirs)
      .map((dir) => join(dir, name, version, 'manifest.json'))
      .find((path) => existsSync(path));
  const candidate = await Promise.all(versions.map((version) => isCandidate(manifestOf(version))));
  const newest = versions.find((_, i) => !candidate[i]);
  if (newest) return newest;
  const [shipped] = foldersOf(dirs) as [string];
  if (!existsSync(join(shipped, name))) throw new ModelLoadError(`model folder not found: ${join(shipped, name)}`);
  throw new ModelLoadError(`no version folder with a manifest.json in ${join(shipped, name)}`);
}

/**
 * The version number adaptation writes next: one more than the largest numeric version in either
 * folder (non-numeric names are skipped), "1" for a model with none.
 */
export async function nextVersion(dirs: string | ModelFolders, name: string): Promise<string> {
  const numbers = (await listVersions(dirs, name)).filter((v) => /^\d+$/.test(v)).map(Number);
  return String(Math.max(0, ...numbers) + 1);
}

/**
 * The folder that holds `<name>/<version>`: the shipped one first, then the adapted one. A version in
 * neither is looked for in the shipped folder, so the error names the manifest that is missing.
 */
export function folderOf(dirs: ModelFolders, name: string, version: string): string {
  return [dirs.shipped, dirs.adapted].find((dir) => existsSync(join(dir, name, version))) ?? dirs.shipped;
}

/** Whether a version folder exists in either folder (it may still be broken). */
export const versionExists = (dirs: ModelFolders, name: string, version: string): boolean =>
  versionPattern.test(version) && [dirs.shipped, dirs.adapted].some((dir) => existsSync(join(dir, name, version)));

/** A version's manifest, from whichever folder holds it. */
export const readVersionManifest = (dirs: ModelFolders, name: string, version: string): Promise<ModelManifest> =>
  readModelManifest(folderOf(dirs, name, version), name, version);
