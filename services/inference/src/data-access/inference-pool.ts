import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AppError } from '@capcheck/shared';
import type { ModelManifest, ModelOutputs } from '../domain/ports';
import { ModelLoadError } from './model-repository';
import { undecodable } from './preprocess';

/**
 * onnxruntime's `session.run` blocks the thread it runs on, so each model session lives in a worker
 * thread. The source is inline (evaluated) so the same code runs from TypeScript tests and from dist.
 *
 * A worker also decodes the pictures it is given encoded, with the package's compiled `recipe.js` (the
 * manifest's recipe, the code `preprocess` runs on the event loop): the event loop then only serves HTTP,
 * and a worker never waits for it to prepare the next batch (bench/README.md, run W). A picture that
 * cannot be decoded fails alone; the rest of its batch runs.
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const { recipePixels, loadRecipe } = require(workerData.recipePath);
const { model, maxImagePixels } = workerData;
const [h, w, c] = model.inputShape;
const imageBytes = h * w * c;
const reasonOf = (err) => String((err && err.message) || err);
(async () => {
  let session;
  try {
    loadRecipe(model);
  } catch (err) {
    return parentPort.postMessage({ type: 'failed', message: reasonOf(err) });
  }
  try {
    session = await ort.InferenceSession.create(model.modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (err) {
    return parentPort.postMessage({ type: 'failed', message: 'onnxruntime cannot load ' + model.modelPath + ': ' + reasonOf(err) });
  }
  parentPort.postMessage({ type: 'ready' });
  parentPort.on('message', async ({ id, inputs }) => {
    try {
      // All at once: sharp's decodes (v1 to v3) run on libuv's pool side by side; libjpeg-turbo's run here.
      const decoded = await Promise.allSettled(
        inputs.map((input) => input.pixels || recipePixels(Buffer.from(input.encoded.buffer), model, maxImagePixels)),
      );
      const tensor = new Uint8Array(inputs.length * imageBytes);
      const failures = [];
      let rows = 0;
      for (const outcome of decoded) {
        if (outcome.status === 'fulfilled') tensor.set(outcome.value, rows++ * imageBytes);
        failures.push(outcome.status === 'fulfilled' ? null : reasonOf(outcome.reason));
      }
      if (rows === 0) {
        parentPort.postMessage({ type: 'result', id, failures, scores: new Float32Array(0), embedding: null, seconds: 0 });
        return;
      }
      const data = rows === inputs.length ? tensor : tensor.slice(0, rows * imageBytes);
      const input = new ort.Tensor('uint8', data, [rows, h, w, c]);
      const started = performance.now();
      const output = await session.run({ [model.inputName]: input });
      const seconds = (performance.now() - started) / 1000;
      const scores = Float32Array.from(output[model.outputName].data);
      const embedding = model.embedding ? Float32Array.from(output[model.embedding.name].data) : null;
      parentPort.postMessage({ type: 'result', id, failures, scores, embedding, seconds }, embedding ? [scores.buffer, embedding.buffer] : [scores.buffer]);
    } catch (err) {
      parentPort.postMessage({ type: 'error', id, message: reasonOf(err) });
    }
  });
})();
`;

/**
 * Where the worker finds the recipe compiled: the package's dist, from src (tests) and dist alike. A
 * worker thread runs plain JavaScript; `pnpm build` (and the tests' global setup) makes this file.
 */
const compiledRecipe = join(__dirname, '..', '..', 'dist', 'data-access', 'recipe.js');

/** What a worker is given: a model input already made, or a picture's bytes to decode first. */
type WorkerInput = { pixels: Uint8Array } | { encoded: Uint8Array };

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | {
      type: 'result';
      id: number;
      /** One per input, in order: why it could not be decoded, or null where it ran (its rows are in scores, in order). */
      failures: (string | null)[];
      scores: Float32Array;
      embedding: Float32Array | null;
      seconds: number;
    }
  | { type: 'error'; id: number; message: string };

interface Job {
  input: WorkerInput;
  queuedAt: number;
  resolve(outputs: ModelOutputs): void;
  reject(err: Error): void;
}

export interface PoolTelemetry {
  batch(size: number, seconds: number): void;
  queueDepth(depth: number): void;
}

export interface InferencePool {
  /**
   * Class probabilities for one picture's bytes, decoded by the worker that runs it, as the manifest's
   * recipe says; one that cannot be decoded is the same 422 AppError as `preprocess` throws.
   */
  classify(bytes: Buffer): Promise<Float32Array>;
  /** As classify, for several pictures queued together; each answer (or refusal) is its own. */
  classifyEach(pictures: readonly Buffer[]): Promise<Float32Array>[];
  /** Class probabilities for one preprocessed image (H×W×3 bytes). */
  run(pixels: Uint8Array): Promise<Float32Array>;
  /**
   * Class probabilities for several images, in order. They join the queue together, so free workers
   * take them in full batches; a queue without room for all of them refuses all of them.
   */
  runMany(images: readonly Uint8Array[]): Promise<Float32Array[]>;
  /**
   * As runMany, with each image's `embedding` too (null when the model has no such output). Background
   * work (adaptation) waits while predictions are queued, but never longer than `backgroundMaxWaitMs`.
   */
  outputsOf(images: readonly Uint8Array[], options?: { background?: boolean }): Promise<ModelOutputs[]>;
  queueDepth(): number;
  readonly size: number;
  close(): Promise<void>;
}

/**
 * A fixed pool of worker threads. Jobs wait in one queue; a worker that comes free takes up to
 * `maxBatch` waiting jobs in a single `session.run` (never waiting for more to arrive, so batching
 * adds no latency). A full queue refuses new jobs (503) instead of growing without bound.
 */
export async function createInferencePool(options: {
  model: ModelManifest;
  /** The pixel limit for pictures the workers decode (as the images service's). */
  maxImagePixels: number;
  workers: number;
  maxBatch: number;
  maxQueue: number;
  telemetry: PoolTelemetry;
}): Promise<InferencePool> {
  const { model, maxBatch, maxQueue, telemetry } = options;
  if (!existsSync(compiledRecipe)) {
    throw new ModelLoadError(`the inference workers need ${compiledRecipe}: build the package (pnpm build)`);
  }
  const [h, w, c] = model.inputShape;
  const imageBytes = h * w * c;
  const classes = model.labels.length;
  /** A background job waits for predictions at most this long, then goes alone: it slows them, never stops. */
  const backgroundMaxWaitMs = 250;
  const embeddingSize = model.embedding?.size ?? 0;
  const queue: Job[] = [];
  /** Background jobs: taken when no prediction waits, or one at a time once they have waited too long. */
  const background: Job[] = [];
  /** How long close() lets batches in flight finish before it stops their workers anyway. */
  const closeWaitMs = 10_000;
  const idle: Worker[] = [];
  const inFlight = new Map<number, { jobs: Job[]; started: bigint; worker: Worker }>();
  let nextId = 0;
  let closed = false;
  /** Every worker that loaded and has not exited: what close() must stop. */
  const live = new Set<Worker>();
  /** Called by the last batch to come back once closing: close() waits for it. */
  let drained: (() => void) | undefined;
  const settle = () => {
    if (closed && inFlight.size === 0) drained?.();
  };

  const dispatch = () => {
    while (idle.length > 0 && (queue.length > 0 || background.length > 0)) {
      const worker = idle.pop() as Worker;
      const starved = background.length > 0 && performance.now() - background[0]!.queuedAt > backgroundMaxWaitMs;
      const jobs =
        starved || queue.length === 0 ? background.splice(0, starved ? 1 : maxBatch) : queue.splice(0, maxBatch);
      // Copies the worker owns: the callers keep their buffers, and no larger buffer behind a view travels.
      const inputs = jobs.map(({ input }): WorkerInput =>
        'pixels' in input ? { pixels: new Uint8Array(input.pixels) } : { encoded: new Uint8Array(input.encoded) },
      );
      const id = nextId++;
      inFlight.set(id, { jobs, started: process.hrtime.bigint(), worker });
      const transfer = inputs.map((input) => ('pixels' in input ? input.pixels : input.encoded).buffer as ArrayBuffer);
      worker.postMessage({ id, inputs }, transfer);
    }
    telemetry.queueDepth(queue.length);
  };

  const spawn = () =>
    new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(workerSource, {
        eval: true,
        workerData: {
          ortPath: require.resolve('onnxruntime-node'),
          recipePath: compiledRecipe,
          model,
          maxImagePixels: options.maxImagePixels,
        },
      });
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'ready':
            live.add(worker);
            return resolve(worker);
          case 'failed':
            return reject(new ModelLoadError(message.message));
          case 'result':
          case 'error': {
            const batch = inFlight.get(message.id);
            if (!batch) return;
            inFlight.delete(message.id);
            // Measured in the worker: the event loop reads the answer only when it gets to it.
            const seconds =
              message.type === 'result' ? message.seconds : Number(process.hrtime.bigint() - batch.started) / 1e9;
            telemetry.batch(batch.jobs.length, seconds);
            if (message.type === 'result') {
              const { scores, embedding, failures } = message;
              let row = 0;
              batch.jobs.forEach((job, i) => {
                const failure = failures[i];
                if (failure !== null) return job.reject(undecodable(new Error(failure)));
                job.resolve({
                  scores: scores.slice(row * classes, (row + 1) * classes),
                  embedding: embedding && embedding.slice(row * embeddingSize, (row + 1) * embeddingSize),
                });
                row++;
              });
            } else {
              batch.jobs.forEach((job) => job.reject(new Error(`inference failed: ${message.message}`)));
            }
            if (!closed) idle.push(worker);
            settle();
            return dispatch();
          }
        }
      });
      worker.on('error', reject);
      worker.on('exit', (code) => {
        live.delete(worker);
        // A worker that dies takes its batch with it; those callers get an error, the pool a replacement.
        for (const [id, batch] of inFlight) {
          if (batch.worker !== worker) continue;
          inFlight.delete(id);
          batch.jobs.forEach((job) => job.reject(new Error(`inference worker exited (${code})`)));
        }
        settle();
        const at = idle.indexOf(worker);
        if (at >= 0) idle.splice(at, 1);
        if (!closed)
          spawn().then(
            (replacement) => (idle.push(replacement), dispatch()),
            () => undefined,
          );
      });
    });

  const started = await Promise.allSettled(Array.from({ length: options.workers }, spawn));
  const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    // All or nothing: the workers that did load must not outlive the failed start-up.
    closed = true;
    await Promise.all(workers.map((worker) => worker.terminate()));
    throw failure.reason;
  }
  idle.push(...workers);

  /** One promise per input, all queued at once (so free workers take them in full batches), or all refused. */
  const enqueueEach = (
    inputs: readonly WorkerInput[],
    options: { background?: boolean } = {},
  ): Promise<ModelOutputs>[] => {
    const lane = options.background ? background : queue;
    const refusal = closed
      ? new AppError('unavailable', 'model_unavailable', 'the model is not loaded')
      : lane.length + inputs.length > maxQueue
        ? new AppError('unavailable', 'saturated', 'too many predictions in progress; try again', {
            retryAfterSeconds: 1,
          })
        : null;
    if (refusal) return inputs.map(() => Promise.reject(refusal));
    const results = inputs.map(
      (input) =>
        new Promise<ModelOutputs>((resolve, reject) =>
          lane.push({ input, queuedAt: performance.now(), resolve, reject }),
        ),
    );
    dispatch();
    return results;
  };

  const outputsOf = (images: readonly Uint8Array[], options?: { background?: boolean }): Promise<ModelOutputs[]> => {
    const wrong = images.find((pixels) => pixels.length !== imageBytes);
    if (wrong) return Promise.reject(new Error(`expected ${imageBytes} bytes, got ${wrong.length}`));
    return Promise.all(
      enqueueEach(
        images.map((pixels) => ({ pixels })),
        options,
      ),
    );
  };
  const classifyEach = (pictures: readonly Buffer[]): Promise<Float32Array>[] =>
    enqueueEach(pictures.map((encoded) => ({ encoded }))).map((outputs) => outputs.then((o) => o.scores));

  return {
    size: workers.length,
    queueDepth: () => queue.length,
    classify: (bytes: Buffer) => classifyEach([bytes])[0] as Promise<Float32Array>,
    classifyEach,
    run: (pixels: Uint8Array) => outputsOf([pixels]).then(([outputs]) => (outputs as ModelOutputs).scores),
    runMany: (images) => outputsOf(images).then((outputs) => outputs.map((o) => o.scores)),
    outputsOf,
    async close() {
      closed = true;
      [...queue.splice(0), ...background.splice(0)].forEach((job) =>
        job.reject(new AppError('unavailable', 'model_unavailable', 'shutting down')),
      );
      // A worker terminated inside session.run can abort the whole process (onnxruntime's native code
      // throws while its thread is torn down), so the batches in flight finish first, within a bound.
      if (inFlight.size > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, closeWaitMs).unref();
        });
      }
      await Promise.all([...live].map((worker) => worker.terminate()));
    },
  };
}
