import { Worker } from 'node:worker_threads';
import { AppError } from '@capcheck/shared';
import type { ModelManifest, ModelOutputs } from '../domain/ports';
import { ModelLoadError } from './model-repository';

/**
 * onnxruntime's `session.run` blocks the thread it runs on, so each model session lives in a worker
 * thread. The source is inline (evaluated) so the same code runs from TypeScript tests and from dist.
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
(async () => {
  let session;
  try {
    session = await ort.InferenceSession.create(workerData.modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (err) {
    parentPort.postMessage({ type: 'failed', message: String((err && err.message) || err) });
    return;
  }
  parentPort.postMessage({ type: 'ready' });
  parentPort.on('message', async ({ id, pixels, count }) => {
    try {
      const [h, w, c] = workerData.inputShape;
      const input = new ort.Tensor('uint8', new Uint8Array(pixels), [count, h, w, c]);
      const started = performance.now();
      const output = await session.run({ [workerData.inputName]: input });
      const seconds = (performance.now() - started) / 1000;
      const scores = Float32Array.from(output[workerData.outputName].data);
      const embedding = workerData.embeddingName ? Float32Array.from(output[workerData.embeddingName].data) : null;
      parentPort.postMessage({ type: 'result', id, scores, embedding, seconds }, embedding ? [scores.buffer, embedding.buffer] : [scores.buffer]);
    } catch (err) {
      parentPort.postMessage({ type: 'error', id, message: String((err && err.message) || err) });
    }
  });
})();
`;

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; scores: Float32Array; embedding: Float32Array | null; seconds: number }
  | { type: 'error'; id: number; message: string };

interface Job {
  pixels: Uint8Array;
  queuedAt: number;
  resolve(outputs: ModelOutputs): void;
  reject(err: Error): void;
}

export interface PoolTelemetry {
  batch(size: number, seconds: number): void;
  queueDepth(depth: number): void;
}

export interface InferencePool {
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
  workers: number;
  maxBatch: number;
  maxQueue: number;
  telemetry: PoolTelemetry;
}): Promise<InferencePool> {
  const { model, maxBatch, maxQueue, telemetry } = options;
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
      const pixels = new Uint8Array(jobs.length * imageBytes);
      jobs.forEach((job, i) => pixels.set(job.pixels, i * imageBytes));
      const id = nextId++;
      inFlight.set(id, { jobs, started: process.hrtime.bigint(), worker });
      worker.postMessage({ id, pixels: pixels.buffer, count: jobs.length }, [pixels.buffer]);
    }
    telemetry.queueDepth(queue.length);
  };

  const spawn = () =>
    new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(workerSource, {
        eval: true,
        workerData: {
          ortPath: require.resolve('onnxruntime-node'),
          modelPath: model.modelPath,
          inputName: model.inputName,
          outputName: model.outputName,
          embeddingName: model.embedding?.name ?? null,
          inputShape: model.inputShape,
        },
      });
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'ready':
            live.add(worker);
            return resolve(worker);
          case 'failed':
            return reject(new ModelLoadError(`onnxruntime cannot load ${model.modelPath}: ${message.message}`));
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
              const { scores, embedding } = message;
              batch.jobs.forEach((job, i) =>
                job.resolve({
                  scores: scores.slice(i * classes, (i + 1) * classes),
                  embedding: embedding && embedding.slice(i * embeddingSize, (i + 1) * embeddingSize),
                }),
              );
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

  const outputsOf = (
    images: readonly Uint8Array[],
    options: { background?: boolean } = {},
  ): Promise<ModelOutputs[]> => {
    const lane = options.background ? background : queue;
    if (closed) return Promise.reject(new AppError('unavailable', 'model_unavailable', 'the model is not loaded'));
    const wrong = images.find((pixels) => pixels.length !== imageBytes);
    if (wrong) return Promise.reject(new Error(`expected ${imageBytes} bytes, got ${wrong.length}`));
    if (lane.length + images.length > maxQueue) {
      return Promise.reject(
        new AppError('unavailable', 'saturated', 'too many predictions in progress; try again', {
          retryAfterSeconds: 1,
        }),
      );
    }
    const results = images.map(
      (pixels) =>
        new Promise<ModelOutputs>((resolve, reject) =>
          lane.push({ pixels, queuedAt: performance.now(), resolve, reject }),
        ),
    );
    dispatch();
    return Promise.all(results);
  };

  return {
    size: workers.length,
    queueDepth: () => queue.length,
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
