import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  OnnxEditError,
  createInferencePool,
  fitLinearHead,
  headProbability,
  preprocess,
  withNewHead,
  type ModelManifest,
} from '@capcheck/inference';
import { samplePicture, servedModel } from '../../../test-support/models';

/** Two clouds in 40 dimensions that differ only along a few of them, with noise elsewhere. */
function clouds(rows: number, seed: number) {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const dims = 40;
  const features = new Float32Array(rows * dims);
  const labels = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    labels[i] = i % 3 === 0 ? 1 : 0; // unbalanced on purpose
    for (let j = 0; j < dims; j++) features[i * dims + j] = 5 + random() * 3 + (j < 3 && labels[i] ? 4 : 0);
  }
  return { features, rows, dims, labels };
}

test('the fitted head separates what is separable, on examples it did not see, with unbalanced classes', () => {
  const head = fitLinearHead(clouds(90, 7));
  const unseen = clouds(300, 99);
  let right = 0;
  for (let i = 0; i < unseen.rows; i++) {
    const p = headProbability(head, unseen.features.subarray(i * unseen.dims, (i + 1) * unseen.dims));
    if (p > 0.5 === (unseen.labels[i] === 1)) right++;
  }
  expect(right / unseen.rows).toBeGreaterThan(0.9);
  expect([0.001, 0.01, 0.1, 1]).toContain(head.l2);
});

test('the fit runs from its own source text, as the worker thread runs it', () => {
  const rebuilt = new Function(`return (${fitLinearHead.toString()})`)() as typeof fitLinearHead;
  const set = clouds(30, 3);
  expect(Array.from(rebuilt(set).weights)).toEqual(Array.from(fitLinearHead(set).weights));
});

/** One picture's outputs from a model, run by the service's own worker pool (onnxruntime in a worker thread). */
async function outputsOf(model: ModelManifest, pixels: Uint8Array) {
  const telemetry = { batch: () => undefined, queueDepth: () => undefined };
  const pool = await createInferencePool({
    model,
    maxImagePixels: 40e6,
    workers: 1,
    maxBatch: 1,
    maxQueue: 1,
    telemetry,
  });
  try {
    const [outputs] = await pool.outputsOf([pixels]);
    return outputs!;
  } finally {
    await pool.close();
  }
}

describe('a new head written into the served model', () => {
  test('serves softmax(head(embedding)) as probabilities and keeps the embedding, in onnxruntime', async () => {
    const manifest = await servedModel();
    const parent = readFileSync(manifest.modelPath);
    const size = manifest.embedding!.size;
    const weights = new Float32Array(2 * size).map((_, i) => Math.sin(i) / 10);
    const bias = Float32Array.from([0.3, -0.3]);
    const child = withNewHead(
      parent,
      { weights, bias, classes: 2 },
      {
        output: manifest.outputName,
        embedding: 'embedding',
        prefix: 'adapted_',
      },
    );
    const childPath = join(mkdtempSync(join(tmpdir(), 'capcheck-head-')), 'model.onnx');
    writeFileSync(childPath, child);
    const pixels = await preprocess(samplePicture('open-1.jpg'), manifest, 40_000_000);
    const [before, after] = await Promise.all([
      outputsOf(manifest, pixels),
      outputsOf({ ...manifest, modelPath: childPath }, pixels),
    ]);
    const embedding = after.embedding!;
    expect(Array.from(embedding)).toEqual(Array.from(before.embedding!));
    const logits = [0, 1].map((c) => bias[c]! + embedding.reduce((z, e, j) => z + e * weights[c * size + j]!, 0));
    const expected = logits.map((l) => Math.exp(l) / (Math.exp(logits[0]!) + Math.exp(logits[1]!)));
    Array.from(after.scores).forEach((p, c) => expect(p).toBeCloseTo(expected[c]!, 5));
    expect(Array.from(after.scores)).not.toEqual(Array.from(before.scores));
  });

  test('a parent without the named outputs, or not ONNX at all, is refused with a reason', async () => {
    const manifest = await servedModel();
    const parent = readFileSync(manifest.modelPath);
    const head = { weights: new Float32Array(2 * manifest.embedding!.size), bias: new Float32Array(2), classes: 2 };
    expect(() => withNewHead(parent, head, { output: 'probabilities', embedding: 'features', prefix: 'a_' })).toThrow(
      /no output named features/,
    );
    expect(() =>
      withNewHead(Buffer.from('{"not": "onnx"}'), head, { output: 'p', embedding: 'e', prefix: 'a_' }),
    ).toThrow(OnnxEditError);
  });
});
