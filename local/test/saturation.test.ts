import { startLocal } from '../../test-support/local';

/** Polls until `probe` answers `want` (no sleeps: one event-loop turn between tries), or the deadline. */
async function until<T>(probe: () => Promise<T>, want: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await probe();
  while (!want(value) && Date.now() < deadline) {
    await new Promise((r) => setImmediate(r));
    value = await probe();
  }
  return value;
}

test('/readyz fails while the event loop is blocked past READY_MAX_EVENT_LOOP_DELAY_MS, then recovers', async () => {
  const sys = await startLocal({ READY_MAX_EVENT_LOOP_DELAY_MS: '200' });
  try {
    type Ready = { status: string; checks: Record<string, string> };
    expect((await sys.api.get<Ready>('/readyz')).body.checks['event-loop']).toBe('ok');
    const blockedUntil = Date.now() + 600;
    while (Date.now() < blockedUntil); // a synchronous burst, as a CPU-bound handler would cause
    const saturated = await until(
      () => sys.api.get<Ready>('/readyz'),
      (r) => r.status === 503,
    );
    expect(saturated.body.checks['event-loop']).toMatch(/^saturated: event loop delay p99 \d+ ms over 200 ms$/);
    const recovered = await until(
      () => sys.api.get<Ready>('/readyz'),
      (r) => r.status === 200,
    );
    expect(recovered.body).toMatchObject({ status: 'ready', checks: { 'event-loop': 'ok' } });
  } finally {
    await sys.close();
  }
});
