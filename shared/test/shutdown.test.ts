import { createHttpApp, createLogger, createMetrics, gracefulShutdown, Lifecycle } from '@capcheck/shared';
import { listen } from '../../test-support/http';

/** A service with one slow route that finishes only when the test says so. */
async function startSlowService() {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const inFlight = new Promise<void>((r) => (arrived = r));
  const lifecycle = new Lifecycle();
  const events: string[] = [];
  const app = createHttpApp({
    name: 'test',
    logger: createLogger({ service: 'test', level: 'silent' }),
    metrics: createMetrics(),
    lifecycle,
    trustProxy: false,
    readiness: [],
    mount(a) {
      a.get('/slow', async (_req, res) => {
        arrived();
        await released;
        events.push('slow request answered');
        res.json({ done: true });
      });
    },
  });
  const started = await listen(app);
  const shutdown = gracefulShutdown({
    server: started.server,
    lifecycle,
    logger: createLogger({ service: 'test', level: 'silent' }),
    drainTimeoutMs: 5000,
    closers: [
      { name: 'store', close: async () => void events.push('store closed') },
      { name: 'broker', close: async () => void events.push('broker closed') },
    ],
  });
  return { ...started, lifecycle, shutdown, release, inFlight, events };
}

test('SIGTERM order: readiness fails, new connections refused, in-flight request completes, then stores close in reverse', async () => {
  const svc = await startSlowService();
  const slow = fetch(`${svc.baseUrl}/slow`);
  await svc.inFlight;

  const done = svc.shutdown();
  expect(svc.lifecycle.draining).toBe(true);
  await expect(fetch(`${svc.baseUrl}/healthz`)).rejects.toThrow(); // listener closed: connection refused

  svc.release();
  const res = await slow;
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ done: true });
  await done;
  expect(svc.events).toEqual(['slow request answered', 'broker closed', 'store closed']);
});

test('a shutdown requested twice runs once', async () => {
  const svc = await startSlowService();
  const [a, b] = [svc.shutdown(), svc.shutdown()];
  expect(a).toBe(b);
  await a;
  expect(svc.events).toEqual(['broker closed', 'store closed']);
});

test('while draining, /readyz answers 503 so load balancers stop sending traffic', async () => {
  const svc = await startSlowService();
  svc.lifecycle.draining = true;
  const res = await fetch(`${svc.baseUrl}/readyz`);
  expect(res.status).toBe(503);
  expect(res.headers.get('connection')).toBe('close');
  svc.lifecycle.draining = false;
  await svc.close();
});
