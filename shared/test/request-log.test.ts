import { Writable } from 'node:stream';
import pino from 'pino';
import { AppError, createHttpApp, createMetrics, Lifecycle } from '@capcheck/shared';
import { listen } from '../../test-support/http';
import { waitFor } from '../../test-support/poll';

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  req?: { id: string; method: string; url: string; remoteAddress: string };
  res?: { statusCode: number };
  responseTime?: number;
  err?: { message: string };
}

/** The HTTP skeleton every service uses, logging into an array. */
async function startService() {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as LogLine);
      done();
    },
  });
  let arrived!: () => void;
  const hanging = new Promise<void>((r) => (arrived = r));
  const app = createHttpApp({
    name: 'test',
    logger: pino({ level: 'info' }, sink),
    metrics: createMetrics(),
    lifecycle: new Lifecycle(),
    trustProxy: false,
    readiness: [],
    mount(a) {
      a.get('/things/:id', (req, res) => {
        res.json({ id: req.params.id });
      });
      a.get('/refused', () => {
        throw new AppError('forbidden', 'forbidden', 'not yours');
      });
      a.get('/broken', () => {
        throw new Error('a bug');
      });
      a.get('/hanging', () => arrived());
    },
  });
  return { ...(await listen(app)), lines, hanging };
}

test('one line per request, with its id, method, URL, status and time; the level follows the status', async () => {
  const svc = await startService();
  try {
    const ok = await fetch(`${svc.baseUrl}/things/42?x=1`, { headers: { 'x-request-id': 'trace-abc' } });
    const refused = await fetch(`${svc.baseUrl}/refused`);
    const broken = await fetch(`${svc.baseUrl}/broken`);
    expect([ok.status, refused.status, broken.status]).toEqual([200, 403, 500]);
    expect(ok.headers.get('x-request-id')).toBe('trace-abc');
    const refusedId = refused.headers.get('x-request-id');
    expect(refusedId).toMatch(/^[0-9a-f-]{36}$/);

    const done = await waitFor('three request lines', () => {
      const found = svc.lines.filter((l) => l.msg === 'request completed');
      return found.length === 3 ? found : undefined;
    });
    const byUrl = Object.fromEntries(done.map((l) => [l.req?.url, l]));
    expect(byUrl['/things/42?x=1']).toMatchObject({
      level: 30,
      reqId: 'trace-abc',
      req: { id: 'trace-abc', method: 'GET', remoteAddress: '127.0.0.1' },
      res: { statusCode: 200 },
    });
    expect(byUrl['/things/42?x=1']?.responseTime).toEqual(expect.any(Number));
    expect(byUrl['/refused']).toMatchObject({ level: 40, reqId: refusedId, res: { statusCode: 403 } });
    expect(byUrl['/broken']).toMatchObject({ level: 50, res: { statusCode: 500 } });
    // The error handler's own line about the bug carries the same request id.
    const bug = svc.lines.find((l) => l.msg === 'unhandled error');
    expect(bug).toMatchObject({ reqId: broken.headers.get('x-request-id'), err: { message: 'a bug' } });
  } finally {
    await svc.close();
  }
});

test('probes are not logged; a request the client leaves is logged as aborted', async () => {
  const svc = await startService();
  try {
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${svc.baseUrl}/metrics`)).status).toBe(200);
    const gone = new AbortController();
    const left = fetch(`${svc.baseUrl}/hanging`, { signal: gone.signal }).catch((err: Error) => err.name);
    await svc.hanging;
    gone.abort();
    expect(await left).toBe('AbortError');

    const aborted = await waitFor('the aborted line', () => svc.lines.find((l) => l.msg === 'request aborted'));
    expect(aborted).toMatchObject({ level: 30, req: { method: 'GET', url: '/hanging' } });
    expect(svc.lines.filter((l) => l.req?.url === '/healthz' || l.req?.url === '/metrics')).toEqual([]);
  } finally {
    await svc.close();
  }
});
