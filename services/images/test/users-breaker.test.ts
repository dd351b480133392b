import { signUp, startLocal, startStandaloneImages, type LocalSystem } from '../../../test-support/local';
import { client, uniqueEmail, type Started } from '../../../test-support/http';
import { tcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy';
import { waitFor } from '../../../test-support/poll';

/** Images deployed alone, checking accounts with a users service that hangs, then comes back. */
let users: LocalSystem;
let line: TcpProxy;
let images: Started;
const deadlineMs = 1_500;
beforeAll(async () => {
  users = await startLocal();
  line = await tcpProxy(users.baseUrl);
  images = await startStandaloneImages(users, line.url, {
    USERS_TIMEOUT_MS: String(deadlineMs),
    USERS_BREAKER_FAILURES: '2',
    USERS_BREAKER_OPEN_MS: '1000',
    ACCOUNT_CHECK_CACHE_MS: '0', // every request asks users
  });
});
afterAll(async () => {
  await images?.close();
  await line?.close();
  await users?.close();
});

test('with users hung: account checks wait one deadline each until the circuit opens, then none; /readyz says degraded; it recovers', async () => {
  const user = await signUp(users.api, uniqueEmail());
  const api = client(images.baseUrl);
  const timedList = async () => {
    const started = Date.now();
    const res = await api.get('/images', { token: user.accessToken });
    return { status: res.status, ms: Date.now() - started };
  };
  expect((await timedList()).status).toBe(200); // the key set is fetched and the account checked

  line.hang();
  // Each caller still gets in (as a plain user), after the check's deadline...
  for (let i = 0; i < 2; i++) {
    const { status, ms } = await timedList();
    expect(status).toBe(200);
    expect(ms).toBeGreaterThanOrEqual(deadlineMs - 100);
  }
  // ...until the circuit opens: then without waiting for users at all.
  for (let i = 0; i < 3; i++) {
    const { status, ms } = await timedList();
    expect(status).toBe(200);
    expect(ms).toBeLessThan(deadlineMs / 2);
  }
  // Reported, but still ready: images serves every caller without users.
  const ready = await api.get<{ status: string; checks: Record<string, string> }>('/readyz');
  expect(ready.status).toBe(200);
  expect(ready.body).toMatchObject({ status: 'degraded', checks: { users: expect.stringMatching(/unreachable/) } });

  line.restore();
  await waitFor(
    'the circuit to users closed again',
    async () => {
      await api.get('/images', { token: user.accessToken });
      const again = await api.get<{ status: string; checks: Record<string, string> }>('/readyz');
      return again.body.checks.users === 'ok' && again.body.status === 'ready' ? true : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 200 },
  );
});
