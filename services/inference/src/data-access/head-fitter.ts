import { Worker } from 'node:worker_threads';
import { fitLinearHead, type HeadTrainingSet, type LinearHead } from '../domain/linear-head';

/**
 * Fits a linear head in a worker thread of its own, so a fit never stalls requests. The worker's source
 * is `fitLinearHead`'s own text (it is self-contained), which works alike from TypeScript tests and dist.
 */
export function fitHeadOffThread(set: HeadTrainingSet, timeoutMs: number): Promise<LinearHead> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fit = ${fitLinearHead.toString()};
    const head = fit(workerData);
    parentPort.postMessage(head, [head.weights.buffer]);
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: set });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`fitting the head took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    worker.once('message', (head: LinearHead) => {
      clearTimeout(timer);
      resolve(head);
      void worker.terminate();
    });
    worker.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error('fitting the head failed', { cause: err }));
    });
    // A worker that ends without an answer (killed, out of memory) must not leave the adaptation waiting.
    worker.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fitting the head stopped (worker exit code ${code})`));
    });
  });
}
