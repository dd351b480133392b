// `pnpm chaos`: outage scenarios against the built services (users, images, inference as separate
// processes, as deployed), on loopback only and bounded in time (CHAOS_MAX_SECONDS, 300 by default).
// Each scenario runs a load while it breaks one thing, mends it, then checks that every upload that
// was answered 201 can be read back byte for byte, and prints a row: requests sent, failed, lost
// writes (must be 0) and the time from the repair to the first request served again. It exits 1 if
// a write is lost, a scenario does not recover within 30 s, or anything answers 500.
//
// RabbitMQ (127.0.0.1:5672) and Redis (127.0.0.1:6379) are used when they answer, each through a
// TCP proxy the script cuts; the broker scenario uses a vhost of its own (`capcheck-chaos`, made
// with rabbitmqctl) so its events reach no other consumer. The full-disk scenario mounts a small
// tmpfs, so it runs only as root (skipped, with a note, otherwise). Logs: <temp dir>/*.log.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import sharp from 'sharp';
import { root, withComment } from '../../bench/lib.mjs';
import { tcpProxy } from './tcp-proxy.mjs';

const maxSeconds = Number(process.env.CHAOS_MAX_SECONDS ?? 300);
const work = mkdtempSync(join(tmpdir(), 'capcheck-chaos-'));
const dataDir = join(work, 'data');
const password = 'chaos: a good long password';
const running = new Set();
const proxies = [];
let mounted = null;

const watchdog = setTimeout(() => {
  console.error(`chaos: over ${maxSeconds} s, stopping`);
  void cleanUp().then(() => process.exit(2));
}, maxSeconds * 1000);
watchdog.unref();

// ---------------------------------------------------------------- processes

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const reachable = (port) =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** A built service on loopback; resolves once /healthz answers. */
async function startService(name, entry, port, env) {
  const log = openSync(join(work, `${name}.log`), 'a');
  const child = spawn(process.execPath, [join(root, entry)], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', BCRYPT_COST: '4', ...env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const service = { name, entry, port, env, child, url: `http://127.0.0.1:${port}` };
  running.add(service);
  child.once('exit', () => running.delete(service));
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): see ${work}/${name}.log`);
    if (
      await fetch(`${service.url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return service;
    if (Date.now() > until) throw new Error(`${name} did not answer within 60 s`);
    await delay(100);
  }
}

const exited = (service) =>
  service.child.exitCode !== null || service.child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => service.child.once('exit', resolve));

async function stopService(service, signal = 'SIGTERM') {
  const gone = exited(service);
  service.child.kill(signal);
  await gone;
}

// ---------------------------------------------------------------- requests

const reasonOf = (err) => err?.cause?.code ?? err?.name ?? 'error';
const resetReasons = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** What one scenario's load did. */
function newStats() {
  return { sent: 0, failed: 0, reasons: new Map(), uploads: [] };
}
function failed(stats, reason) {
  stats.failed++;
  stats.reasons.set(reason, (stats.reasons.get(reason) ?? 0) + 1);
}

let pictureSeq = 0;
let basePicture;
const picture = () => withComment(basePicture, `chaos ${process.pid} ${++pictureSeq} ${Date.now()}`);

async function request(stats, url, init = {}) {
  stats.sent++;
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    const body = await res.arrayBuffer();
    if (res.status >= 400) failed(stats, String(res.status));
    return { status: res.status, body: Buffer.from(body) };
  } catch (err) {
    failed(stats, reasonOf(err));
    return { status: 0, body: Buffer.alloc(0) };
  }
}

async function upload(stats, imagesUrl, token, bytes = picture()) {
  const form = new FormData();
  form.append('image', new Blob([bytes], { type: 'image/jpeg' }), 'chaos.jpg');
  const res = await request(stats, `${imagesUrl}/images`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  if (res.status === 201) stats.uploads.push({ id: JSON.parse(res.body.toString()).id, bytes, imagesUrl, token });
  return res.status;
}

const predict = (stats, inferenceUrl, token, id) =>
  request(stats, `${inferenceUrl}/predict/${id}`, { headers: { authorization: `Bearer ${token}` } });

const login = (stats, usersUrl, email) =>
  request(stats, `${usersUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });

/** Every upload answered 201 read back: how many are not there, byte for byte. */
async function lostWrites(stats) {
  let lost = 0;
  for (const { id, bytes, imagesUrl, token } of stats.uploads) {
    const res = await fetch(`${imagesUrl}/images/${id}/content`, {
      headers: { authorization: `Bearer ${token}` },
    }).catch(() => null);
    const got = res?.ok ? Buffer.from(await res.arrayBuffer()) : null;
    if (!got?.equals(bytes)) lost++;
  }
  return lost;
}

/**
 * `workers` loops calling `op` until `ms` have passed. A loop whose request failed waits 50 ms, as a
 * client backing off would, rather than spinning on instant refusals.
 */
async function load(ms, workers, op, stats) {
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = 0; Date.now() < end; i++) {
        const failedBefore = stats.failed;
        await op(worker, i);
        if (stats.failed > failedBefore) await delay(50);
      }
    }),
  );
}

/** Milliseconds until `probe` holds (polled every 100 ms), or null after `maxMs`. */
async function timeUntil(probe, since = Date.now(), maxMs = 30_000) {
  while (Date.now() - since < maxMs) {
    if (await probe().catch(() => false)) return Date.now() - since;
    await delay(100);
  }
  return null;
}

async function account(usersUrl) {
  const email = `chaos-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}@example.test`;
  const json = (body) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const registered = await fetch(`${usersUrl}/auth/register`, json({ email, password }));
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${await registered.text()}`);
  const res = await fetch(`${usersUrl}/auth/login`, json({ email, password }));
  if (!res.ok) throw new Error(`login: ${res.status} ${await res.text()}`);
  return { email, token: (await res.json()).accessToken };
}

const readyz = async (url) => (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3_000) })).status === 200;

// ---------------------------------------------------------------- the system

async function startSystem() {
  const [usersPort, imagesPort, inferencePort] = await Promise.all([freePort(), freePort(), freePort()]);
  const notes = {};
  let rabbitUrl = null;
  if (await reachable(5672)) {
    try {
      execFileSync('rabbitmqctl', ['add_vhost', 'capcheck-chaos'], { stdio: 'ignore', timeout: 60_000 });
    } catch {
      // already there (or rabbitmqctl missing: the permissions step below tells)
    }
    try {
      execFileSync('rabbitmqctl', ['set_permissions', '-p', 'capcheck-chaos', 'guest', '.*', '.*', '.*'], {
        stdio: 'ignore',
        timeout: 60_000,
      });
      const broker = await tcpProxy('127.0.0.1', 5672);
      proxies.push(broker);
      notes.broker = broker;
      rabbitUrl = `amqp://guest:guest@127.0.0.1:${broker.port}/capcheck-chaos`;
    } catch {
      notes.brokerSkipped = 'no vhost of its own (rabbitmqctl failed): skipped so no other consumer sees its events';
    }
  } else notes.brokerSkipped = 'RabbitMQ does not answer on 127.0.0.1:5672';
  let redisUrl = null;
  if (await reachable(6379)) {
    const redis = await tcpProxy('127.0.0.1', 6379);
    proxies.push(redis);
    notes.redis = redis;
    redisUrl = `redis://127.0.0.1:${redis.port}/5`;
  } else notes.redisSkipped = 'Redis does not answer on 127.0.0.1:6379';

  const common = { DATA_DIR: dataDir };
  const events = rabbitUrl ? { EVENT_BUS: 'rabbitmq', RABBITMQ_URL: rabbitUrl } : {};
  const users = await startService('users', 'services/users/dist/main.js', usersPort, {
    ...common,
    ...(redisUrl ? { RATE_LIMIT_STORE: 'redis', REDIS_URL: redisUrl } : {}),
    LOGIN_ATTEMPTS_PER_ACCOUNT: '1000000',
    LOGIN_ATTEMPTS_PER_IP: '1000000',
    REGISTRATIONS_PER_IP_PER_HOUR: '1000000',
  });
  const verifier = {
    JWKS_URL: `${users.url}/.well-known/jwks.json`,
    USERS_URL: users.url,
  };
  const imagesEnv = { ...common, ...events, ...verifier, MAX_CONCURRENT_UPLOADS_PER_USER: '64' };
  const images = await startService('images', 'services/images/dist/main.js', imagesPort, imagesEnv);
  const imagesLine = await tcpProxy('127.0.0.1', imagesPort);
  proxies.push(imagesLine);
  const inference = await startService('inference', 'services/inference/dist/main.js', inferencePort, {
    ...common,
    ...events,
    ...verifier,
    IMAGES_URL: `http://127.0.0.1:${imagesLine.port}`,
    IMAGES_TIMEOUT_MS: '1000',
    INFERENCE_WORKERS: '1',
    INFERENCE_QUEUE_PREFIX: `chaos-${process.pid}`,
  });
  return { users, images, inference, imagesLine, notes };
}

// ---------------------------------------------------------------- scenarios

/** Uploads and predictions on what was uploaded, by `workers` loops, for `ms`. */
function mixedLoad(sys, stats, token, ms, workers = 3) {
  return load(
    ms,
    workers,
    async (worker, i) => {
      if (worker === 0 || i % 2 === 0 || stats.uploads.length === 0) await upload(stats, sys.images.url, token);
      else await predict(stats, sys.inference.url, token, stats.uploads[(i * 7) % stats.uploads.length].id);
    },
    stats,
  );
}

const summary = (stats) => [...stats.reasons].map(([reason, n]) => `${n}× ${reason}`).join(', ') || 'no failures';

async function brokerDown(sys) {
  const broker = sys.notes.broker;
  if (!broker) return { skipped: sys.notes.brokerSkipped };
  const { token } = await account(sys.users.url);
  const stats = newStats();
  const published = async () => {
    const text = await (await fetch(`${sys.images.url}/metrics`)).text();
    const line = text.match(
      /^capcheck_events_published_total\{[^}]*type="image.uploaded"[^}]*outcome="ok"[^}]*\} (\S+)$/m,
    );
    return Number(line?.[1] ?? 0);
  };
  let recoverMs = null;
  await Promise.all([
    mixedLoad(sys, stats, token, 8_000),
    (async () => {
      await delay(1_500);
      broker.cut();
      await delay(3_500);
      broker.restore();
      const since = Date.now();
      const before = await published();
      // Back when an upload's event is published again (the bus reconnects on its own).
      recoverMs = await timeUntil(
        async () => (await upload(newStats(), sys.images.url, token)) === 201 && (await published()) > before,
        since,
      );
    })(),
  ]);
  return { stats, recoverMs, note: `broker down 3.5 s; ${summary(stats)}` };
}

async function redisDown(sys) {
  const redis = sys.notes.redis;
  if (!redis) return { skipped: sys.notes.redisSkipped };
  const { email, token } = await account(sys.users.url);
  const stats = newStats();
  let recoverMs = null;
  await Promise.all([
    load(
      8_000,
      3,
      async (worker) => (worker === 0 ? login(stats, sys.users.url, email) : upload(stats, sys.images.url, token)),
      stats,
    ),
    (async () => {
      await delay(1_500);
      redis.cut();
      await delay(3_000);
      redis.restore();
      recoverMs = await timeUntil(() => readyz(sys.users.url));
    })(),
  ]);
  return { stats, recoverMs, note: `Redis down 3 s (logins counted in memory meanwhile); ${summary(stats)}` };
}

async function hungImages(sys) {
  const { token } = await account(sys.users.url);
  const seeded = newStats();
  for (let i = 0; i < 4; i++) await upload(seeded, sys.images.url, token);
  const stats = newStats();
  stats.uploads.push(...seeded.uploads);
  let recoverMs = null;
  await Promise.all([
    load(
      8_000,
      3,
      async (worker, i) =>
        worker === 0
          ? upload(stats, sys.images.url, token)
          : predict(stats, sys.inference.url, token, stats.uploads[i % stats.uploads.length].id),
      stats,
    ),
    (async () => {
      await delay(1_500);
      sys.imagesLine.hang();
      await delay(4_000);
      sys.imagesLine.restore();
      const id = seeded.uploads[0].id;
      recoverMs = await timeUntil(async () => (await predict(newStats(), sys.inference.url, token, id)).status === 200);
    })(),
  ]);
  return {
    stats,
    recoverMs,
    note: `inference→images line hung 4 s (predict 503 after one 1 s deadline, then at once); ${summary(stats)}`,
  };
}

async function restartImages(sys, how) {
  const { token } = await account(sys.users.url);
  const stats = newStats();
  let recoverMs = null;
  let exitNote = '';
  await Promise.all([
    mixedLoad(sys, stats, token, 8_000, 4),
    (async () => {
      await delay(1_500);
      const stopped = Date.now();
      await stopService(sys.images, how);
      exitNote = `${how}: exited ${sys.images.child.exitCode ?? sys.images.child.signalCode} in ${Date.now() - stopped} ms`;
      if (how === 'SIGKILL') await delay(2_000);
      const since = Date.now();
      sys.images = await startService('images', sys.images.entry, sys.images.port, sys.images.env);
      recoverMs = await timeUntil(async () => (await upload(newStats(), sys.images.url, token)) === 201, since);
    })(),
  ]);
  const resets = [...stats.reasons].filter(([r]) => resetReasons.has(r)).reduce((n, [, c]) => n + c, 0);
  return {
    stats,
    recoverMs,
    note: `${exitNote}; restart included in the recovery; ${resets} reset mid-request; ${summary(stats)}`,
  };
}

async function fullDisk(sys) {
  if (process.getuid?.() !== 0) return { skipped: 'needs root to mount a tmpfs' };
  const mountPoint = join(work, 'small-disk');
  mkdirSync(mountPoint);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mountPoint]);
  } catch (err) {
    return { skipped: `mount -t tmpfs failed: ${err.message.split('\n')[0]}` };
  }
  mounted = mountPoint;
  const images = await startService('images-small-disk', 'services/images/dist/main.js', await freePort(), {
    DATA_DIR: join(mountPoint, 'data'),
    UPLOAD_TMP_DIR: join(mountPoint, 'uploads'),
    MIN_FREE_DISK_BYTES: String(2 * 1024 * 1024),
    JWKS_URL: `${sys.users.url}/.well-known/jwks.json`,
    USERS_URL: sys.users.url,
    MAX_CONCURRENT_UPLOADS_PER_USER: '64',
  });
  const { token } = await account(sys.users.url);
  // Ballast: leave about 4 MiB free, so a few uploads fill the disk; removing it is the repair.
  const ballast = join(mountPoint, 'ballast');
  const { bavail, bsize } = statfsSync(mountPoint);
  const fd = openSync(ballast, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 1);
  for (let left = bavail * bsize - 4 * 1024 * 1024; left > 0; left -= chunk.length)
    writeSync(fd, chunk, 0, Math.min(chunk.length, left));
  closeSync(fd);

  const big = await sharp({
    create: { width: 400, height: 300, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 60 } },
  })
    .jpeg({ quality: 95 })
    .toBuffer();
  const stats = newStats();
  let seq = 0;
  let reads = 0;
  let readFailures = 0;
  let recoverMs = null;
  await Promise.all([
    load(
      6_000,
      2,
      async (worker) => {
        await upload(stats, images.url, token, withComment(big, `full ${++seq}`));
        const done = stats.uploads[Math.floor(Math.random() * stats.uploads.length)];
        if (worker === 1 && done) {
          reads++;
          const res = await fetch(`${images.url}/images/${done.id}/content`, {
            headers: { authorization: `Bearer ${token}` },
          }).catch(() => null);
          if (!res?.ok) readFailures++;
          await res?.arrayBuffer();
        }
      },
      stats,
    ),
    (async () => {
      await delay(4_000);
      rmSync(ballast);
      recoverMs = await timeUntil(
        async () => (await upload(newStats(), images.url, token, withComment(big, `after ${++seq}`))) === 201,
      );
    })(),
  ]);
  const lost = await lostWrites(stats);
  await stopService(images);
  execFileSync('umount', [mountPoint]);
  mounted = null;
  return {
    stats,
    lost,
    recoverMs,
    note: `24 MiB tmpfs filled for 4 s; reads while full: ${reads - readFailures}/${reads} ok; ${summary(stats)}`,
  };
}

// ---------------------------------------------------------------- run

async function cleanUp() {
  await Promise.all([...running].map((s) => stopService(s).catch(() => undefined)));
  await Promise.all(proxies.map((p) => p.close()));
  if (mounted) {
    try {
      execFileSync('umount', [mounted]);
    } catch {
      // left mounted: named below
    }
  }
}

const pad = (s, n) => String(s).padEnd(n);
function printRow(cells) {
  const widths = [30, 6, 7, 12, 13];
  console.log(`| ${cells.map((c, i) => (i < widths.length ? pad(c, widths[i]) : c)).join(' | ')} |`);
}

async function main() {
  basePicture = await sharp({
    create: { width: 160, height: 120, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 40 } },
  })
    .jpeg()
    .toBuffer();
  const sys = await startSystem();
  const scenarios = [
    ['broker down, then back', () => brokerDown(sys)],
    ['Redis down, then back', () => redisDown(sys)],
    ['images hung (behind inference)', () => hungImages(sys)],
    ['images killed, restarted', () => restartImages(sys, 'SIGKILL')],
    ['SIGTERM to images under load', () => restartImages(sys, 'SIGTERM')],
    ['disk full (tmpfs), then room', () => fullDisk(sys)],
  ];
  console.log(`chaos: built services on loopback; data and logs under ${work}`);
  printRow(['scenario', 'sent', 'failed', 'lost writes', 'recovered in', 'notes']);
  printRow(['-'.repeat(30), '-'.repeat(6), '-'.repeat(7), '-'.repeat(12), '-'.repeat(13), '---']);
  let ok = true;
  for (const [name, run] of scenarios) {
    let row;
    try {
      row = await run();
    } catch (err) {
      row = { error: err };
    }
    if (row.skipped) {
      printRow([name, '–', '–', '–', '–', `skipped: ${row.skipped}`]);
      continue;
    }
    if (row.error) {
      ok = false;
      printRow([name, '–', '–', '–', '–', `FAILED to run: ${row.error.message}`]);
      continue;
    }
    const lost = row.lost ?? (await lostWrites(row.stats));
    // A 500 is a bug whatever broke: outages answer 503 (or 507 for a full disk), never 500.
    if (lost > 0 || row.recoverMs === null || row.stats.reasons.has('500')) ok = false;
    const recovered = row.recoverMs === null ? 'NOT in 30 s' : `${(row.recoverMs / 1000).toFixed(2)} s`;
    printRow([name, row.stats.sent, row.stats.failed, `${lost} / ${row.stats.uploads.length}`, recovered, row.note]);
  }
  await cleanUp();
  if (ok) rmSync(work, { recursive: true, force: true });
  else console.log(`chaos: something did not hold; logs kept in ${work}`);
  process.exitCode = ok ? 0 : 1;
}

main().catch(async (err) => {
  console.error(err);
  await cleanUp();
  process.exit(1);
});
