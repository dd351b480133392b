import { createRedisRateLimiters, type RateLimiterFactory } from '@capcheck/shared';
import { password, startLocal, type LocalSystem } from '../../../test-support/local';
import { suiteFor, tcpUnreachable, uniqueEmail } from '../../../test-support/http';
import { tcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy';
import { waitFor } from '../../../test-support/poll';

/** Login throttling with its counts in Redis, while an attacker keeps guessing through a Redis outage. */
const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

suiteFor('login throttling across a Redis outage', 'redis', tcpUnreachable(redisUrl.href), () => {
  let proxy: TcpProxy;
  let limiters: RateLimiterFactory;
  let sys: LocalSystem;
  beforeAll(async () => {
    proxy = await tcpProxy(redisUrl.href);
    limiters = await createRedisRateLimiters(proxy.url, `capcheck-test:${process.pid}:${Date.now()}`);
    sys = await startLocal({ LOGIN_THROTTLE_FAIL_CLOSED_AFTER_SECONDS: '2' }, { rateLimiters: limiters });
  });
  afterEach(() => proxy.restore());
  afterAll(async () => {
    await sys.close();
    await limiters.close();
    await proxy.close();
  });

  /** Logs in with the right password until the answer has `status`; each try is a bcrypt check, so it waits long. */
  const loginUntil = (email: string, status: number) =>
    waitFor(
      `a login answered ${status}`,
      async () => {
        const res = await sys.api.post('/auth/login', { json: { email, password } });
        return res.status === status ? res : undefined;
      },
      { timeoutMs: 25_000 },
    );

  const guess = (email: string, i: number) =>
    sys.api.post('/auth/login', { json: { email, password: `wrong guess ${i}` } }).then((r) => r.status);

  test('guesses Redis counted are not forgotten when it goes away: 5 in all, not 5 more', async () => {
    const email = uniqueEmail();
    await sys.api.post('/auth/register', { json: { email, password } });
    expect([await guess(email, 1), await guess(email, 2), await guess(email, 3)]).toEqual([401, 401, 401]);

    proxy.cut();
    const during = [];
    for (let i = 4; i <= 8; i++) during.push(await guess(email, i));
    expect(during).toEqual([401, 401, 429, 429, 429]);
    expect((await sys.api.get('/readyz')).status).toBe(503);
  });

  test('an outage longer than the bound refuses logins (fails closed), and they come back with Redis', async () => {
    const email = uniqueEmail();
    await sys.api.post('/auth/register', { json: { email, password } });
    proxy.cut();
    expect(await guess(email, 1)).toBe(401); // decided locally at first
    const closed = await loginUntil(email, 429);
    expect(Number(closed.headers.get('retry-after'))).toBeGreaterThan(0);

    proxy.restore();
    const back = await loginUntil(email, 200);
    expect(back.body).toMatchObject({ accessToken: expect.any(String) });
  }, 60_000);
});
