#!/usr/bin/env node
/**
 * Adapting to a line, end to end, as its people would: start capcheck (the built local process, its own
 * data folder), upload a line's pictures, say what `--per-label` of each label show (feedback), adapt,
 * roll the new version out in full, and ask about the line's other pictures. Prints accuracy before and
 * after, how long the adaptation took, and prediction throughput before and while it runs.
 *
 *   pnpm build
 *   node eval/independent/svg-bottles.mjs --out /tmp/capcheck-data/line-adapt --count 400 --seed 21 --style line
 *   node eval/adapt-line.mjs --data /tmp/capcheck-data/line-adapt --per-label 30
 *
 * --data: a folder with open/ and closed/ pictures (the line). Pictures used for feedback are drawn at
 * random (--seed); all others are the test. Nothing here shares code with the training generators.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..');
const FLAGS = { data: '', 'per-label': '30', seed: '1', clients: '4' };

function parseFlags(argv) {
  const out = { ...FLAGS };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in FLAGS) || i + 1 >= argv.length)
      throw new Error(`usage: --data DIR [--per-label N] [--seed S] [--clients C]`);
    out[name] = argv[i + 1];
  }
  if (!out.data) throw new Error('--data is required');
  return out;
}

/** A small deterministic shuffle (mulberry32), so a run can be repeated. */
function shuffled(items, seed) {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

async function startCapcheck(dataDir) {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(root, 'local/dist/main.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      DATA_DIR: dataDir,
      ADMIN_EMAILS: 'admin@line.example',
      LOG_LEVEL: 'warn',
      ROLLOUT_POLL_MS: '500',
      // Every GET below is answered by the model, not by a verdict computed at upload.
      INFERENCE_PRECOMPUTE: 'false',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready)
      return { base, stop: () => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM'))) };
    if (Date.now() > deadline) throw new Error('capcheck did not become ready in 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function api(base) {
  return async (method, url, { token, json, form } = {}) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    let body;
    if (json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form) body = form;
    const res = await fetch(`${base}${url}`, { method, headers, body });
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : null;
    if (res.status >= 400) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return parsed;
  };
}

async function account(call, email) {
  const password = 'a long line passphrase';
  await call('POST', '/auth/register', { json: { email, password } });
  return (await call('POST', '/auth/login', { json: { email, password } })).accessToken;
}

async function upload(call, token, file) {
  const form = new FormData();
  form.append('image', new Blob([readFileSync(file)], { type: 'image/jpeg' }), path.basename(file));
  return (await call('POST', '/images', { token, form })).id;
}

/** Runs `work` over items with `clients` requests in flight; returns the results in order and pictures/s. */
async function concurrently(items, clients, work) {
  const results = new Array(items.length);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]);
      }
    }),
  );
  return { results, perSecond: items.length / ((performance.now() - started) / 1000) };
}

const accuracy = (verdicts, pictures) =>
  verdicts.filter((v, i) => v.label === pictures[i].label).length / pictures.length;
const pct = (x) => `${(x * 100).toFixed(2)} %`;

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  const perLabel = Number(flags['per-label']);
  const clients = Number(flags.clients);
  const pictures = ['open', 'closed'].flatMap((label) =>
    readdirSync(path.join(flags.data, label)).map((f) => ({ file: path.join(flags.data, label, f), label })),
  );
  const order = shuffled(pictures, Number(flags.seed));
  const feedback = ['open', 'closed'].flatMap((label) => order.filter((p) => p.label === label).slice(0, perLabel));
  const test = order.filter((p) => !feedback.includes(p));
  const dataDir = mkdtempSync(path.join(tmpdir(), 'capcheck-line-'));
  const capcheck = await startCapcheck(dataDir);
  try {
    const call = api(capcheck.base);
    const admin = await account(call, 'admin@line.example');
    const line = await account(call, 'line@line.example');
    const models = await call('GET', '/models', { token: line });
    const parent = models.items[0].version;

    for (const p of [...feedback, ...test]) p.id = await upload(call, line, p.file);
    for (const p of feedback) await call('PUT', `/predict/${p.id}/feedback`, { token: line, json: { label: p.label } });

    // Before: the served model on the test pictures, uncached, under a steady load. A third of the way
    // in, the adaptation starts: throughput while it runs is compared with throughput before it.
    const done = [];
    const loadStarted = performance.now();
    const load = concurrently(test, clients, async (p) => {
      const verdict = await call('GET', `/predict/${p.id}`, { token: line });
      done.push(performance.now());
      return verdict;
    });
    while (done.length < test.length / 3) await new Promise((r) => setTimeout(r, 10));
    const adaptStarted = performance.now();
    const started = await call('POST', '/admin/api/models/bottle-state/adaptations', { token: admin });
    let adaptation;
    for (;;) {
      adaptation = await call('GET', `/admin/api/models/bottle-state/adaptations/${started.id}`, { token: admin });
      if (adaptation.status === 'succeeded' || adaptation.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const adaptEnded = performance.now();
    const beforeRun = await load;
    if (adaptation.status !== 'succeeded') throw new Error(`adaptation failed: ${adaptation.error}`);
    const before = accuracy(beforeRun.results, test);
    const rate = (from, to) => done.filter((t) => t >= from && t < to).length / ((to - from) / 1000);
    const quietRate = rate(loadStarted, adaptStarted);
    const busyEnd = Math.min(adaptEnded, done[done.length - 1]);
    const busyRate = rate(adaptStarted, busyEnd);
    const adaptSeconds = (adaptEnded - adaptStarted) / 1000;

    await call('PUT', '/admin/api/models/bottle-state/rollout', {
      token: admin,
      json: { version: adaptation.version, mode: 'full' },
    });
    for (;;) {
      const served = await call('GET', '/models', { token: line });
      if (served.items[0].version === adaptation.version) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = await concurrently(test, clients, (p) => call('GET', `/predict/${p.id}`, { token: line }));
    const afterAccuracy = accuracy(after.results, test);
    const byLabel = (label) => {
      const mine = test.map((p, i) => [p, after.results[i]]).filter(([p]) => p.label === label);
      return `${mine.filter(([p, v]) => v.label === p.label).length}/${mine.length}`;
    };

    console.log(
      `line: ${flags.data} (${pictures.length} pictures); feedback ${perLabel} per label; test ${test.length}`,
    );
    console.log(
      `served before: v${parent}; adapted: v${adaptation.version} (examples ${JSON.stringify(adaptation.examples)})`,
    );
    console.log(
      `held-out feedback: candidate ${pct(adaptation.metrics.candidate.accuracy)}, current ${pct(adaptation.metrics.current.accuracy)}`,
    );
    console.log(`adaptation: ${adaptSeconds.toFixed(1)} s from POST to succeeded`);
    console.log(
      `test accuracy: before ${pct(before)} -> after ${pct(afterAccuracy)} (open ${byLabel('open')}, closed ${byLabel('closed')})`,
    );
    console.log(
      `uncached GET /predict/:id, ${clients} clients: ${quietRate.toFixed(1)}/s before, ${busyRate.toFixed(1)}/s while adapting ` +
        `(${pct(busyRate / quietRate - 1)}; measured over ${((busyEnd - adaptStarted) / 1000).toFixed(1)} s of the adaptation's ${adaptSeconds.toFixed(1)} s)`,
    );
  } finally {
    await capcheck.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
