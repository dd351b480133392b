// pnpm bench:cached — the price of the HTTP path alone: GET /predict/:id and POST /predict for pictures
// whose verdicts are already cached (no decode, no model), 16 clients, so what is left is HTTP, routing,
// auth and its account check, the cache lookup, the request log and the metrics. Prints the rate and the
// CPU the server and this client spent per request. Each phase runs BENCH_CACHED_ROUNDS times (3); the
// first round also warms the JIT.
//
// Settings (environment): BENCH_CACHED_PICTURES (400 distinct pictures), BENCH_CACHED_REQUESTS (4000 per
// phase), BENCH_CACHED_ROUNDS (3), MODEL_VERSION (default: what the local process serves).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchPictures, pictureName } from './pictures.mjs';
import { measure, multipart, randomPort, startLocal, uploadPictures, waitReady } from './lib.mjs';

const count = Number(process.env.BENCH_CACHED_PICTURES ?? 400);
const requests = Number(process.env.BENCH_CACHED_REQUESTS ?? 4000);
const rounds = Number(process.env.BENCH_CACHED_ROUNDS ?? 3);
const port = randomPort();
const url = `http://127.0.0.1:${port}`;
const server = startLocal(port);
const dir = await benchPictures(3000);
const pictures = Array.from({ length: count }, (_, i) => readFileSync(join(dir, pictureName(i))));

const json = (body) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const line = (title, r) =>
  console.log(
    `  ${title.padEnd(34)} ${r.perSecond.toFixed(0).padStart(6)} requests/s   p50 ${r.p50.toFixed(1).padStart(5)} ms` +
      `   server CPU ${r.serverCpuMs.toFixed(3)} ms   client CPU ${r.clientCpuMs.toFixed(3)} ms` +
      (r.failed ? `   FAILED ${r.failed}` : ''),
  );

try {
  await waitReady(`${url}/readyz`, server, 60);
  const account = { email: `cached-${Date.now()}@example.test`, password: 'benchmark password' };
  await fetch(`${url}/auth/register`, json(account));
  const token = `Bearer ${(await (await fetch(`${url}/auth/login`, json(account))).json()).accessToken}`;
  const ids = await uploadPictures(url, token, pictures, 'cached');
  const get = (amount) =>
    measure({
      url,
      connections: 16,
      amount,
      headers: { authorization: token },
      serverPid: server.pid,
      next: (i) => ({ path: `/predict/${ids[i % count]}` }),
    });
  const post = (amount) =>
    measure({
      url,
      connections: 16,
      amount,
      method: 'POST',
      serverPid: server.pid,
      next: (i) => {
        const { body, contentType } = multipart('image', [pictures[i % count]]);
        return { path: '/predict', body, headers: { authorization: token, 'content-type': contentType } };
      },
    });
  // Every verdict computed once, before anything is measured.
  await get(count);
  await post(count);
  console.log(`cached verdicts, ${count} pictures, 16 clients, ${requests} requests a phase`);
  for (let round = 1; round <= rounds; round++) {
    line(`round ${round}: GET /predict/:id`, await get(requests));
    line(`round ${round}: POST /predict`, await post(requests));
  }
} finally {
  server.kill('SIGTERM');
}
