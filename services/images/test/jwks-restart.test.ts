import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signUp, startLocal, startStandaloneImages, type LocalSystem } from '../../../test-support/local';
import { client, uniqueEmail, type Started } from '../../../test-support/http';
import { tcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy';

/** Images deployed alone, restarted while the users service (its key set) is down. */
let users: LocalSystem;
let line: TcpProxy;
const running: Started[] = [];
const cacheFile = join(mkdtempSync(join(tmpdir(), 'capcheck-jwks-')), 'jwks-cache.json');
beforeAll(async () => {
  users = await startLocal();
  line = await tcpProxy(users.baseUrl);
});
afterAll(async () => {
  for (const s of running) await s.close();
  await line.close();
  await users.close();
});

/** A fresh images process (new verifier, nothing in memory) that reaches users through the line. */
async function startImages(): Promise<Started> {
  const started = await startStandaloneImages(users, line.url, { JWKS_CACHE_FILE: cacheFile, USERS_TIMEOUT_MS: '500' });
  running.push(started);
  return started;
}

test('a restart while users is down still verifies tokens with the key set saved on disk', async () => {
  const user = await signUp(users.api, uniqueEmail());
  const before = await startImages();
  expect((await client(before.baseUrl).get('/images', { token: user.accessToken })).status).toBe(200);

  line.cut(); // users is gone
  const after = await startImages();
  const res = await client(after.baseUrl).get('/images', { token: user.accessToken });
  expect(res.status).toBe(200);
  // A forged token still fails: the saved set holds only the users service's public keys.
  expect((await client(after.baseUrl).get('/images', { token: `${user.accessToken}x` })).status).toBe(401);
});
