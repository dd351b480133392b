import { startLocal } from '../../test-support/local';
import { waitFor } from '../../test-support/poll';

test('/readyz fails while the event loop is blocked past READY_MAX_EVENT_LOOP_DELAY_MS, then recovers', async () => {
  const sys = await startLocal({ READY_MAX_EVENT_LOOP_DELAY_MS: '200' });
  try {
    type Ready = { status: string; checks: Record<string, string> };
    expect((await sys.api.get<Ready>('/readyz')).body.checks['event-loop']).toBe('ok');
    const blockedUntil = Date.now() + 600;
    while (Date.now() < blockedUntil); // a synchronous burst, as a CPU-bound handler would cause
    const readyz = (status: number) => async () => {
      const answer = await sys.api.get<Ready>('/readyz');
      return answer.status === status ? answer : undefined;
    };
    const saturated = await waitFor('/readyz to report saturation', readyz(503));
    expect(saturated.body.checks['event-loop']).toMatch(/^saturated: event loop delay p99 \d+ ms over 200 ms$/);
    const recovered = await waitFor('/readyz to recover', readyz(200));
    expect(recovered.body).toMatchObject({ status: 'ready', checks: { 'event-loop': 'ok' } });
  } finally {
    await sys.close();
  }
});
