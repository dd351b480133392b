// pnpm bench:peer — capcheck side by side with the Flask peer (a plain Flask + gunicorn + onnxruntime
// server of the same model), in one run: the same model, the same distinct 640×480 JPEGs, the same
// number of clients, phases alternating between the two so that a busy machine weighs on both alike,
// after a warm-up of both (400 requests of each kind, not timed).
// Each round: capcheck GET /predict/:id uncached, the peer's GET /predict/<name>, capcheck POST
// /predict, the peer's POST /predict, one client's 32-picture batches against its single POSTs. The bare
// limit (decode + letterbox as the manifest says + the worker pool, in this process, no HTTP) is measured
// first and last in each round and the two averaged, so that the machine's drift within a round weighs on
// it as on the phases between. Ratios are capcheck / peer. Each line also gives the CPU the server spent
// per picture (every thread and child process), the figure a busy machine disturbs least, and the CPU of
// this process as the load generator, which shares the cores with the server (the bare limit has none).
//
// Settings (environment): PEER_PYTHON (a Python with flask, gunicorn, opencv and onnxruntime; see
// the peer's README), PEER_DIR (the folder of flask_peer.py), BENCH_PICTURES (3000), BENCH_ROUNDS (3),
// BENCH_CLIENTS (16), BENCH_SOLO_PICTURES (640), MODEL_VERSION (default: the newest shipped version).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { benchPictures, pictureName } from './pictures.mjs';
import {
  benchPool,
  decodeAndInferAll,
  measure,
  multipart,
  randomPort,
  root,
  startLocal,
  uploadPictures,
  waitReady,
  withComment,
} from './lib.mjs';

const require = createRequire(import.meta.url);
const inference = require(join(root, 'services/inference/dist/index.js'));

const count = Number(process.env.BENCH_PICTURES ?? 3000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const clients = Number(process.env.BENCH_CLIENTS ?? 16);
const batchSize = 32;
/** Pictures for the one-client phases (single POSTs in sequence against batches of 32). */
const soloPictures = Math.min(count, Number(process.env.BENCH_SOLO_PICTURES ?? 640));
const peerPython = process.env.PEER_PYTHON ?? '/tmp/peervenv/bin/python';
const peerDir = resolve(process.env.PEER_DIR ?? join(root, '..', 'shared', 'peer'));
if (!existsSync(join(peerDir, 'flask_peer.py'))) {
  console.error(`flask_peer.py not found in ${peerDir}: set PEER_DIR to the peer's folder`);
  process.exit(2);
}

const models = join(root, 'models');
const version = process.env.MODEL_VERSION ?? (await inference.latestVersion(models, 'bottle-state'));
const manifest = await inference.readModelManifest(models, 'bottle-state', version);
const [height, width] = manifest.inputShape;
const picturesDir = await benchPictures(Math.max(count, 3000)); // the first `count` of the standard set
const pictures = Array.from({ length: count }, (_, i) => readFileSync(join(picturesDir, pictureName(i))));
const averageKb = pictures.reduce((n, p) => n + p.length, 0) / count / 1024;

const capPort = randomPort();
const peerPort = capPort + 1000;
const cap = `http://127.0.0.1:${capPort}`;
const peer = `http://127.0.0.1:${peerPort}`;
const capcheck = startLocal(capPort, { MODEL_VERSION: version });
const peerServer = spawn(
  peerPython,
  [
    '-m',
    'gunicorn',
    '-w',
    '2',
    '-b',
    `127.0.0.1:${peerPort}`,
    '--log-level',
    'warning',
    // Loading onnxruntime and the model can take longer than gunicorn's 30 s on a busy machine.
    '--timeout',
    '120',
    '--chdir',
    peerDir,
    'flask_peer:app',
  ],
  {
    env: {
      PATH: process.env.PATH,
      RUNTIME: 'ort',
      OUTPUT: 'probs',
      INPUT: 'nhwc-uint8',
      SIZE: String(width),
      MODEL: manifest.modelPath,
      IMAGES: picturesDir,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
const stopAll = () => {
  capcheck.kill('SIGTERM');
  peerServer.kill('SIGTERM');
};
process.on('SIGINT', () => (stopAll(), process.exit(130)));

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const ms = (v) => `${String(Math.round(v)).padStart(4)} ms`;
const line = (title, r) =>
  console.log(
    `  ${title.padEnd(40)} ${r.perSecond.toFixed(1).padStart(6)} pictures/s   p50 ${ms(r.p50)}   p99 ${ms(r.p99)}` +
      `   server CPU ${r.serverCpuMs.toFixed(1).padStart(5)} ms/picture` +
      (Number.isFinite(r.clientCpuMs) ? `   client CPU ${r.clientCpuMs.toFixed(2)} ms` : '') +
      (r.failed ? `   FAILED ${r.failed}` : ''),
  );

/** The bare limit: what the worker pool's decode + inference do with these pictures, 16 in flight, no HTTP. */
async function bareLimit(pool) {
  const cpu = process.cpuUsage();
  const seconds = await decodeAndInferAll(pool, pictures, clients);
  const { user, system } = process.cpuUsage(cpu);
  return {
    perSecond: count / seconds,
    p50: NaN,
    p99: NaN,
    failed: 0,
    serverCpuMs: (user + system) / 1000 / count,
  };
}

try {
  await Promise.all([waitReady(`${cap}/readyz`, capcheck, 60), waitReady(`${peer}/healthz`, peerServer, 60)]);
  const email = `bench-${Date.now()}@example.test`;
  const password = 'benchmark password';
  const register = await fetch(`${cap}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!register.ok) throw new Error(`register: ${register.status}`);
  // Access tokens live 15 minutes and a round can take longer on a busy machine: a fresh one per phase.
  const login = async () => {
    const res = await fetch(`${cap}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    return `Bearer ${(await res.json()).accessToken}`;
  };
  let token = await login();
  const probe = multipart('image', [pictures[0]]);
  const probed = await fetch(`${cap}/predict`, {
    method: 'POST',
    headers: { authorization: token, 'content-type': probe.contentType },
    body: probe.body,
  });
  const hasPost = probed.status !== 404;

  console.log(
    `capcheck vs the Flask peer — ${cpus().length} cores (${availableParallelism()} available), node ${process.version}, ` +
      `load average ${load()} at start`,
  );
  console.log(
    `model bottle-state/${manifest.version} (${width}×${height} input); ${count} distinct 640×480 JPEGs ` +
      `(${averageKb.toFixed(0)} KB average); ${clients} clients; ${rounds} rounds; ` +
      `peer: gunicorn 2 workers, onnxruntime 1 thread each`,
  );
  const pool = await benchPool(inference, manifest);
  // Both servers answer a few hundred of each request before anything is timed: the first requests
  // of a Node process run unoptimised code, and the first round was otherwise the slowest of every run.
  const warm = Math.min(count, 400);
  const warmIds = await uploadPictures(cap, token, pictures.slice(0, warm), 'warm-up');
  const warmUp = (url, path, headers = {}) =>
    measure({ url, connections: clients, amount: warm, headers, next: (i) => ({ path: path(i) }) });
  await warmUp(cap, (i) => `/predict/${warmIds[i]}`, { authorization: token });
  await warmUp(peer, (i) => `/predict/${pictureName(i)}`);
  if (hasPost) {
    await measure({
      url: cap,
      connections: clients,
      amount: warm,
      method: 'POST',
      next: (i) => {
        const { body, contentType } = multipart('image', [withComment(pictures[i], `warm-up post ${i}`)]);
        return { path: '/predict', body, headers: { authorization: token, 'content-type': contentType } };
      },
    });
  }
  const figures = {};
  const keep = (key, r) => (figures[key] ??= []).push(r);
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round} (load average ${load()})`);
    token = await login();
    const ids = await uploadPictures(cap, token, pictures, `get ${round}`);
    const bareFirst = await bareLimit(pool);
    line('bare: decode + worker pool, no HTTP (first)', bareFirst);
    token = await login();
    const get = await measure({
      url: cap,
      connections: clients,
      amount: count,
      headers: { authorization: token },
      serverPid: capcheck.pid,
      next: (i) => ({ path: `/predict/${ids[i]}` }),
    });
    line('capcheck GET /predict/:id (uncached)', get);
    keep('capGet', get);
    const peerGet = await measure({
      url: peer,
      connections: clients,
      amount: count,
      serverPid: peerServer.pid,
      next: (i) => ({ path: `/predict/${pictureName(i)}` }),
    });
    line('peer GET /predict/<name>', peerGet);
    keep('peerGet', peerGet);
    token = await login();
    if (hasPost) {
      const post = await measure({
        url: cap,
        connections: clients,
        amount: count,
        method: 'POST',
        headers: { authorization: token },
        serverPid: capcheck.pid,
        next: (i) => {
          const { body, contentType } = multipart('image', [withComment(pictures[i], `post ${round} ${i}`)]);
          return { path: '/predict', body, headers: { authorization: token, 'content-type': contentType } };
        },
      });
      line('capcheck POST /predict', post);
      keep('capPost', post);
    }
    const peerPost = await measure({
      url: peer,
      connections: clients,
      amount: count,
      method: 'POST',
      serverPid: peerServer.pid,
      next: (i) => {
        const { body, contentType } = multipart('image', [pictures[i]]);
        return { path: '/predict', body, headers: { 'content-type': contentType } };
      },
    });
    line('peer POST /predict', peerPost);
    keep('peerPost', peerPost);
    if (hasPost) {
      token = await login();
      // One camera with 32 pictures: one batch request, against 32 single POSTs in sequence (1 client).
      const batches = Math.max(1, Math.floor(soloPictures / batchSize));
      const postPicture = (i, tag) => multipart('image', [withComment(pictures[i], `${tag} ${round} ${i}`)]);
      const singles = await measure({
        url: cap,
        connections: 1,
        amount: batches * batchSize,
        method: 'POST',
        serverPid: capcheck.pid,
        next: (i) => {
          const { body, contentType } = postPicture(i, 'solo');
          return { path: '/predict', body, headers: { authorization: token, 'content-type': contentType } };
        },
      });
      line('capcheck POST /predict, 1 client', singles);
      keep('capSolo', singles);
      token = await login();
      const batch = await measure({
        url: cap,
        connections: 1,
        amount: batches,
        method: 'POST',
        serverPid: capcheck.pid,
        next: (b) => {
          const some = pictures
            .slice(b * batchSize, (b + 1) * batchSize)
            .map((p, i) => withComment(p, `batch ${round} ${b * batchSize + i}`));
          const { body, contentType } = multipart('images', some);
          return { path: '/predict/batch', body, headers: { authorization: token, 'content-type': contentType } };
        },
      });
      const perPicture = {
        ...batch,
        perSecond: batch.perSecond * batchSize,
        serverCpuMs: batch.serverCpuMs / batchSize,
      };
      line(`capcheck POST /predict/batch of ${batchSize}, 1 client`, perPicture);
      keep('capBatch', perPicture);
    }
    const bareLast = await bareLimit(pool);
    line('bare: decode + worker pool, no HTTP (last)', bareLast);
    const mean = (key) => (bareFirst[key] + bareLast[key]) / 2;
    const bare = { ...bareLast, perSecond: mean('perSecond'), serverCpuMs: mean('serverCpuMs') };
    line('bare: the mean of first and last', bare);
    keep('bare', bare);
  }
  await pool.close();

  const spread = (key) => {
    const median = (list) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)];
    const rates = (figures[key] ?? []).map((r) => r.perSecond).sort((a, b) => a - b);
    if (!rates.length) return null;
    return {
      min: rates[0],
      max: rates.at(-1),
      median: median(rates),
      p50: median(figures[key].map((r) => r.p50)),
      p99: median(figures[key].map((r) => r.p99)),
      cpu: median(figures[key].map((r) => r.serverCpuMs)),
      client: median(figures[key].map((r) => r.clientCpuMs ?? NaN)),
    };
  };
  const ratios = (a, b) => {
    const list = (figures[a] ?? []).map((r, i) => r.perSecond / figures[b][i].perSecond).sort((x, y) => x - y);
    return list.length ? `${list.map((x) => x.toFixed(2)).join(' / ')} (per round, sorted)` : 'not measured';
  };
  console.log(`summary over ${rounds} rounds (load average ${load()} at the end)`);
  for (const [key, title] of [
    ['capGet', 'capcheck GET /predict/:id uncached'],
    ['peerGet', 'peer GET /predict/<name>'],
    ['capPost', 'capcheck POST /predict'],
    ['peerPost', 'peer POST /predict'],
    ['capSolo', 'capcheck POST /predict, 1 client'],
    ['capBatch', `capcheck POST /predict/batch (${batchSize}), 1 client`],
    ['bare', 'bare limit (decode + pool)'],
  ]) {
    const s = spread(key);
    if (s)
      console.log(
        `  ${title.padEnd(40)} median ${s.median.toFixed(1).padStart(6)} pictures/s (min ${s.min.toFixed(1)}, ` +
          `max ${s.max.toFixed(1)})   p50 ${ms(s.p50)}   p99 ${ms(s.p99)}   CPU ${s.cpu.toFixed(1)} ms/picture` +
          (Number.isFinite(s.client) ? `   client ${s.client.toFixed(2)} ms` : ''),
      );
  }
  console.log(`  ratio GET  capcheck/peer: ${ratios('capGet', 'peerGet')}`);
  console.log(`  ratio POST capcheck/peer: ${ratios('capPost', 'peerPost')}`);
  console.log(`  batch / single POST (1 client): ${ratios('capBatch', 'capSolo')}`);
  console.log(`  GET uncached / bare:      ${ratios('capGet', 'bare')}`);
  console.log(`  POST / bare:              ${ratios('capPost', 'bare')}`);
} finally {
  stopAll();
}
