import { createHttpApp, createLogger, createMetrics, gracefulShutdown, Lifecycle } from '@capcheck/shared';
import { listen } from '../../test-support/http';
import { waitFor } from '../../test-support/poll';
import { rawConnection, requestHead } from '../../test-support/raw-http';

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

test('a response to a request in flight at SIGTERM says Connection: close, so no client reuses its socket', async () => {
  const svc = await startSlowService();
  const conn = rawConnection(svc.baseUrl);
  await conn.connected;
  await conn.write(requestHead('GET', '/slow', { Connection: 'keep-alive' }));
  await svc.inFlight; // past the middleware, before draining began

  const done = svc.shutdown();
  svc.release();
  const answer = await conn.untilClosed();
  expect(answer.status).toBe(200);
  expect(answer.headers.connection).toBe('close');
  expect(answer.ending).toBe('end');
  await done;
});

test('while draining, a request on a kept-alive socket is answered with Connection: close', async () => {
  const svc = await startSlowService();
  const conn = rawConnection(svc.baseUrl);
  await conn.connected;
  await conn.write(requestHead('GET', '/healthz'));
  await waitFor('the first answer', () => (conn.parse().status === 200 ? true : undefined));
  expect(conn.parse().headers.connection).toBe('keep-alive');
  svc.lifecycle.draining = true;
  const before = conn.received().length;
  await conn.write(requestHead('GET', '/healthz'));
  await conn.untilClosed();
  expect(conn.received().slice(before)).toMatch(/\r\nConnection: close\r\n/i);
  svc.lifecycle.draining = false;
  await svc.close();
});
