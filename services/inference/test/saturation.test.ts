import { join } from 'node:path';
import { createLogger } from '@capcheck/shared';
import { ModelRuntime } from '@capcheck/inference';
import { png } from '../../../test-support/images';
import { waitFor } from '../../../test-support/poll';

const modelDir = join(__dirname, '..', '..', '..', 'models');

const readiness = (runtime: ModelRuntime) =>
  runtime.check().then(
    () => 'ok',
    (err: Error) => err.message,
  );

test('inference readiness reports saturation while more predictions are queued than allowed, and recovers', async () => {
  const runtime = new ModelRuntime({
    folders: { shipped: modelDir, adapted: join(modelDir, 'none') },
    name: 'bottle-state',
    workers: 1,
    candidateWorkers: 1,
    maxBatch: 1,
    maxQueue: 200,
    readyMaxQueue: 2,
    maxImagePixels: 40_000_000,
    telemetry: { batch: () => undefined, queueDepth: () => undefined, serving: () => undefined },
    logger: createLogger({ service: 'test', level: 'silent' }),
  });
  try {
    await runtime.ready;
    expect(await readiness(runtime)).toBe('ok');
    const tiny = await png(8, 8); // cheap to decode, so jobs arrive faster than one worker runs them
    const running = Promise.all(Array.from({ length: 60 }, () => runtime.current().classify(tiny)));
    const saturated = await waitFor(
      'readiness to report saturation',
      async () => {
        const answer = await readiness(runtime);
        return answer === 'ok' ? undefined : answer;
      },
      { intervalMs: 1 }, // the queue drains in a few hundred milliseconds
    );
    expect(saturated).toMatch(/^saturated: \d+ predictions queued \(over 2\)$/);
    const results = await running;
    expect(results).toHaveLength(60); // saturation is a signal to the load balancer: queued work still completes
    expect(await readiness(runtime)).toBe('ok');
  } finally {
    await runtime.close();
  }
});
