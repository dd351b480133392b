// pnpm bench:threads — where an uncached GET /predict/:id spends its CPU, thread by thread, against the
// bare limit (decode + worker pool in this process, no HTTP): CPU per picture of the event loop, each
// model worker and the rest (libuv's and V8's helpers), the load generator's (this process, which shares
// the cores), and the share of the phase the workers spent in session.run (from the server's own batch
// metrics). Each round also drives the floor (bench/floor-server.mjs: a bare node:http server around the
// same pool, none of capcheck's work) alike, so that GET / bare reads against the most any server reaches
// here. 16 clients, BENCH_PICTURES distinct pictures a round (3000), BENCH_ROUNDS rounds (2),
// MODEL_VERSION (default: the newest shipped version). Linux only.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { benchPictures, pictureName } from './pictures.mjs';
import {
  benchPool,
  decodeAndInferAll,
  measure,
  randomPort,
  root,
  startLocal,
  uploadPictures,
  waitReady,
} from './lib.mjs';

const require = createRequire(import.meta.url);
const inference = require(join(root, 'services/inference/dist/index.js'));
const count = Number(process.env.BENCH_PICTURES ?? 3000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const models = join(root, 'models');
const version = process.env.MODEL_VERSION ?? (await inference.latestVersion(models, 'bottle-state'));
const manifest = await inference.readModelManifest(models, 'bottle-state', version);
const dir = await benchPictures(Math.max(count, 3000));
const pictures = Array.from({ length: count }, (_, i) => readFileSync(join(dir, pictureName(i))));

/** Milliseconds of CPU used so far by each thread of `pid`, by thread id. */
function threadCpu(pid) {
  const byThread = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byThread.set(tid, (Number(fields[11]) + Number(fields[12])) * 10); // USER_HZ = 100
    } catch {
      // the thread ended meanwhile
    }
  }
  return byThread;
}

/** CPU per picture: the event loop (the thread whose id is the pid), the `workers` busiest others, the rest. */
function perPicture(pid, before, after, workers) {
  const spent = [...after].map(([tid, ms]) => [tid, (ms - (before.get(tid) ?? 0)) / count]);
  const main = spent.find(([tid]) => tid === String(pid))?.[1] ?? 0;
  const others = spent
    .filter(([tid]) => tid !== String(pid))
    .map(([, ms]) => ms)
    .sort((a, b) => b - a);
  const pool = others.slice(0, workers);
  const rest = others.slice(workers).reduce((a, b) => a + b, 0);
  return `event loop ${main.toFixed(2)} ms, workers ${pool.map((ms) => ms.toFixed(2)).join(' + ')} ms, rest ${rest.toFixed(2)} ms`;
}

/** A counter's value in a Prometheus text exposition (summed over its label sets). */
const metric = (text, name) =>
  text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);

const port = randomPort();
const url = `http://127.0.0.1:${port}`;
const server = startLocal(port, { MODEL_VERSION: version });
const floorPort = port + 1000;
const floorUrl = `http://127.0.0.1:${floorPort}`;
const floor = spawn(
  process.execPath,
  [join(import.meta.dirname, 'floor-server.mjs'), dir, version, String(floorPort)],
  {
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
const ratios = [];
try {
  await waitReady(`${url}/readyz`, server, 60);
  await waitReady(`${floorUrl}/readyz`, floor, 60);
  const json = (body) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const account = { email: `threads-${Date.now()}@example.test`, password: 'benchmark password' };
  await fetch(`${url}/auth/register`, json(account));
  const token = `Bearer ${(await (await fetch(`${url}/auth/login`, json(account))).json()).accessToken}`;
  const pool = await benchPool(inference, manifest);
  console.log(`bottle-state/${version}, ${count} pictures a round, 16 clients, CPU per picture by thread`);
  for (let round = 1; round <= rounds; round++) {
    const ids = await uploadPictures(url, token, pictures, `threads ${round}`);
    const metricsBefore = await (await fetch(`${url}/metrics`)).text();
    const before = threadCpu(server.pid);
    const get = await measure({
      url,
      connections: 16,
      amount: count,
      headers: { authorization: token },
      next: (i) => ({ path: `/predict/${ids[i]}` }),
    });
    const after = threadCpu(server.pid);
    const metricsAfter = await (await fetch(`${url}/metrics`)).text();
    const delta = (name) => metric(metricsAfter, name) - metric(metricsBefore, name);
    const busy = delta('capcheck_inference_batch_duration_seconds_sum') / (pool.size * get.seconds);
    const batch = count / delta('capcheck_inference_batch_size_count');
    console.log(
      `round ${round}: GET uncached ${get.perSecond.toFixed(0)}/s: ${perPicture(server.pid, before, after, pool.size)}; ` +
        `load generator ${get.clientCpuMs.toFixed(2)} ms; ` +
        `workers in session.run ${(100 * busy).toFixed(0)} % of the phase, batches of ${batch.toFixed(2)}`,
    );

    const floorBefore = threadCpu(floor.pid);
    const floored = await measure({
      url: floorUrl,
      connections: 16,
      amount: count,
      next: (i) => ({ path: `/predict/${i}` }),
    });
    console.log(
      `round ${round}: floor ${floored.perSecond.toFixed(0)}/s: ${perPicture(floor.pid, floorBefore, threadCpu(floor.pid), pool.size)}; ` +
        `load generator ${floored.clientCpuMs.toFixed(2)} ms`,
    );

    const bareBefore = threadCpu(process.pid);
    const rate = count / (await decodeAndInferAll(pool, pictures, 16));
    const bareAfter = threadCpu(process.pid);
    console.log(
      `round ${round}: bare limit ${rate.toFixed(0)}/s: ${perPicture(process.pid, bareBefore, bareAfter, pool.size)}`,
    );
    ratios.push({ get: get.perSecond / rate, floor: floored.perSecond / rate });
  }
  await pool.close();
  const listed = (key) => ratios.map((r) => r[key].toFixed(2)).join(' / ');
  console.log(`GET uncached / bare, per round: ${listed('get')}; floor / bare: ${listed('floor')}`);
} finally {
  server.kill('SIGTERM');
  floor.kill('SIGTERM');
}
