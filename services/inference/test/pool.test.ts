import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { createInferencePool, preprocess, type ModelManifest } from '@capcheck/inference';
import { bundledModels, modelName, servedModel } from '../../../test-support/models';

let manifest: ModelManifest;
beforeAll(async () => {
  manifest = await servedModel();
});

const image = (fill: number) => new Uint8Array(manifest.inputShape.reduce((a, b) => a * b)).fill(fill);

const openPool = (options: {
  workers?: number;
  maxBatch: number;
  maxQueue: number;
  onBatch?: (size: number) => void;
}) =>
  createInferencePool({
    model: manifest,
    maxImagePixels: 40e6,
    workers: options.workers ?? 1,
    maxBatch: options.maxBatch,
    maxQueue: options.maxQueue,
    telemetry: { batch: (size) => options.onBatch?.(size), queueDepth: () => undefined },
  });

test('jobs that wait together run together, up to maxBatch, and each gets its own row', async () => {
  const batches: number[] = [];
  const pool = await openPool({ maxBatch: 4, maxQueue: 100, onBatch: (size) => batches.push(size) });
  try {
    const results = await Promise.all([0, 40, 80, 120, 160, 200, 240, 30, 90, 150].map((v) => pool.run(image(v))));
    expect(results).toHaveLength(10);
    for (const scores of results) {
      expect(scores).toHaveLength(2);
      expect(scores[0]! + scores[1]!).toBeCloseTo(1, 5);
    }
    // One job went alone (the worker was idle), the rest queued behind it and were batched.
    expect(batches.reduce((a, b) => a + b, 0)).toBe(10);
    expect(Math.max(...batches)).toBeLessThanOrEqual(4);
    expect(Math.max(...batches)).toBeGreaterThan(1);
    // Batched rows equal single runs: batching never mixes images up.
    const alone = await pool.run(image(240));
    expect(Array.from(alone)).toEqual(Array.from(results[6]!).map((x) => expect.closeTo(x, 5)));
  } finally {
    await pool.close();
  }
});

test('a full queue refuses new work with a 503-kind error instead of growing', async () => {
  const pool = await openPool({ maxBatch: 1, maxQueue: 3 });
  try {
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => pool.run(image(7))));
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const o of refused)
      expect((o as PromiseRejectedResult).reason).toMatchObject({ kind: 'unavailable', code: 'saturated' });
    expect(outcomes.some((o) => o.status === 'fulfilled')).toBe(true);
  } finally {
    await pool.close();
  }
});

test('input of the wrong size is refused before it reaches a worker', async () => {
  const pool = await openPool({ maxBatch: 1, maxQueue: 3 });
  try {
    await expect(pool.run(new Uint8Array(10))).rejects.toThrow(`expected ${image(0).length} bytes, got 10`);
  } finally {
    await pool.close();
  }
});

test('runMany queues its images together: full batches from the start, answers in order', async () => {
  const batches: number[] = [];
  const pool = await openPool({ maxBatch: 4, maxQueue: 100, onBatch: (size) => batches.push(size) });
  try {
    const fills = [10, 60, 110, 160, 210, 250, 5, 55, 105, 155];
    const results = await pool.runMany(fills.map(image));
    expect(batches).toEqual([4, 4, 2]);
    for (const [i, fill] of fills.entries())
      expect(Array.from(results[i]!)).toEqual(Array.from(await pool.run(image(fill))));
  } finally {
    await pool.close();
  }
});

test('runMany refuses the whole set when the queue has no room for all of it', async () => {
  const pool = await openPool({ maxBatch: 1, maxQueue: 5 });
  try {
    await expect(pool.runMany(Array.from({ length: 6 }, () => image(1)))).rejects.toMatchObject({ code: 'saturated' });
    await expect(pool.runMany(Array.from({ length: 5 }, () => image(1)))).resolves.toHaveLength(5);
  } finally {
    await pool.close();
  }
});

test('background work (adaptation) waits while predictions are queued, then runs', async () => {
  const batches: number[] = [];
  const pool = await openPool({ maxBatch: 4, maxQueue: 100, onBatch: (size) => batches.push(size) });
  try {
    const finished: string[] = [];
    const track = (name: string, work: Promise<unknown>) => work.then(() => finished.push(name));
    const first = track('prediction 1', pool.run(image(10)));
    const later = track('background', pool.outputsOf([image(20)], { background: true }));
    const rest = [2, 3, 4].map((n) => track(`prediction ${n}`, pool.run(image(n * 30))));
    await Promise.all([first, later, ...rest]);
    // The worker was busy with the first; when it came free, the queued predictions went first.
    expect(finished).toEqual(['prediction 1', 'prediction 2', 'prediction 3', 'prediction 4', 'background']);
    expect(batches).toEqual([1, 3, 1]);
  } finally {
    await pool.close();
  }
});

const sample = (file: string) => readFileSync(join(bundledModels, modelName, 'samples', file));
/** A JPEG whose header reads but whose scan is noise: it fails in the decoder, not before. */
const corruptJpeg = (good: Buffer) => Buffer.concat([good.subarray(0, 2000), Buffer.alloc(2000, 0x17)]);

test('classify decodes in the worker exactly as preprocess does on the event loop, JPEG and PNG alike', async () => {
  const pool = await openPool({ maxBatch: 1, maxQueue: 10 });
  try {
    const jpeg = sample('open-1.jpg');
    // Over 2 MP, a JPEG is decoded off the thread that asked (libuv's pool), in a worker as well.
    const largeJpeg = await sharp(jpeg).resize(2400, 1800).jpeg().toBuffer();
    const png = await sharp(sample('closed-1.jpg')).rotate(90).png().toBuffer();
    for (const bytes of [jpeg, largeJpeg, png]) {
      const here = await pool.run(await preprocess(bytes, manifest, 40e6));
      expect(Array.from(await pool.classify(bytes))).toEqual(Array.from(here));
    }
  } finally {
    await pool.close();
  }
});

test('a picture the worker cannot decode fails alone with a 422 kind; its batch-mates get their verdicts', async () => {
  const batches: number[] = [];
  const pool = await openPool({ maxBatch: 4, maxQueue: 10, onBatch: (size) => batches.push(size) });
  try {
    const good = sample('closed-2.jpg');
    const outcomes = await Promise.allSettled(
      [good, good, corruptJpeg(good), good, good].map((bytes) => pool.classify(bytes)),
    );
    // The first went alone (the worker was idle); the other four, the corrupt one among them, together.
    expect(batches).toEqual([1, 4]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const reason = (outcomes[2] as PromiseRejectedResult).reason as Error;
    expect(reason).toMatchObject({ kind: 'unprocessable', code: 'corrupt_image' });
    // Why it failed stays for the logs.
    expect(String((reason.cause as Error).message)).not.toBe('');
    const verdicts = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [Array.from(o.value)] : []));
    for (const scores of verdicts) expect(scores).toEqual(verdicts[0]);
  } finally {
    await pool.close();
  }
});

test('classifyEach queues its pictures together: full batches from the start, each answer its own', async () => {
  const batches: number[] = [];
  const pool = await openPool({ maxBatch: 4, maxQueue: 10, onBatch: (size) => batches.push(size) });
  try {
    const good = sample('open-2.jpg');
    const outcomes = await Promise.allSettled(pool.classifyEach([good, good, good, corruptJpeg(good), good, good]));
    expect(batches).toEqual([4, 2]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect((outcomes[3] as PromiseRejectedResult).reason).toMatchObject({
      kind: 'unprocessable',
      code: 'corrupt_image',
    });
    const alone = Array.from(await pool.classify(good));
    for (const o of outcomes) if (o.status === 'fulfilled') expect(Array.from(o.value)).toEqual(alone);
    // More than the queue holds: every picture refused alike, nothing half-queued.
    const refused = await Promise.allSettled(pool.classifyEach(Array.from({ length: 11 }, () => good)));
    expect(refused.every((o) => o.status === 'rejected' && o.reason.code === 'saturated')).toBe(true);
  } finally {
    await pool.close();
  }
});
