// What the benches share: the built local process in a child, waiting for a server, a fixed-count
// load run that reports its rate and latencies, and JPEGs made distinct by a comment segment.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..');

export const randomPort = () => 18000 + Math.floor(Math.random() * 1000);

/** The built local process (every service in one), on loopback, its data in a fresh temp folder. */
export function startLocal(port, env = {}) {
  return spawn(process.execPath, [join(root, 'local/dist/main.js')], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      DATA_DIR: mkdtempSync(join(tmpdir(), 'capcheck-bench-')),
      LOG_LEVEL: 'error',
      BCRYPT_COST: process.env.BCRYPT_COST ?? '12',
      LOGIN_ATTEMPTS_PER_IP: '1000000000',
      LOGIN_ATTEMPTS_PER_ACCOUNT: '1000000000',
      REGISTRATIONS_PER_IP_PER_HOUR: '1000000',
      MAX_CONCURRENT_UPLOADS_PER_USER: '64', // the bench uploads its pictures 8 at a time
      INFERENCE_PRECOMPUTE: 'false',
      // the version to measure (default: what the local process serves, the newest shipped one)
      ...(process.env.MODEL_VERSION ? { MODEL_VERSION: process.env.MODEL_VERSION } : {}),
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** Polls `url` until it answers 2xx (or the child exits, or `seconds` pass). */
export async function waitReady(url, child, seconds = 30) {
  for (let i = 0; i < seconds * 10; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited (${child.exitCode})`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready in ${seconds} s`);
}

/** A JPEG with a comment segment (FF FE) after its start marker: the same pixels, other bytes. */
export function withComment(jpeg, text) {
  const body = Buffer.from(text);
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xfffe, 0);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), head, body, jpeg.subarray(2)]);
}

/** A multipart/form-data body with one file per picture, all under `field`. */
export function multipart(field, pictures, boundary = '----capcheckbench') {
  const parts = pictures.flatMap((bytes, i) => [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="p${i}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    ),
    bytes,
    Buffer.from('\r\n'),
  ]);
  return {
    body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/**
 * `amount` requests from `connections` clients, each sending its next request when the last one is
 * answered; `next(i)` gives request i's path, and body and headers for a POST. A plain node:http
 * client with keep-alive (and a new connection where the server closes it, as gunicorn's sync
 * workers do), so both servers are driven alike; latencies are measured per request, and the CPU
 * the server (`serverPid` and its children) spent per request.
 */
export async function measure({ url, connections, amount, method = 'GET', headers = {}, next, serverPid }) {
  const cpuBefore = serverPid ? cpuSeconds(serverPid) : NaN;
  const { hostname, port } = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies = [];
  let failed = 0;
  let issued = 0;
  const one = (request) =>
    new Promise((resolve) => {
      const started = process.hrtime.bigint();
      const req = http.request(
        {
          hostname,
          port,
          agent,
          method,
          path: request.path,
          headers: { ...headers, ...request.headers },
          timeout: 60_000,
        },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            if (res.statusCode < 200 || res.statusCode >= 300) failed++;
            latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => (failed++, resolve()));
      req.end(request.body);
    });
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (issued < amount) await one(next(issued++));
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const serverCpuMs = ((cpuSeconds(serverPid) - cpuBefore) * 1000) / amount;
  return { perSecond: amount / seconds, p50: at(0.5), p99: at(0.99), failed, seconds, serverCpuMs };
}

/** Seconds of CPU (user + system, every thread) used so far by process `pid` and its children (Linux). */
export function cpuSeconds(pid) {
  const stat = (p) => {
    try {
      const text = readFileSync(`/proc/${p}/stat`, 'utf8');
      return text.slice(text.lastIndexOf(')') + 2).split(' ');
    } catch {
      return null; // gone, or not Linux
    }
  };
  const ticks = (fields) => (fields ? Number(fields[11]) + Number(fields[12]) : 0);
  let total = ticks(stat(pid));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = stat(entry);
    if (fields && Number(fields[1]) === pid) total += ticks(fields);
  }
  return total / 100; // USER_HZ
}

/** The bare limit's worker pool: one worker per core, batches of up to 8, a queue that never refuses. */
export function benchPool(inference, manifest) {
  return inference.createInferencePool({
    model: manifest,
    workers: availableParallelism(),
    maxBatch: 8,
    maxQueue: 10000,
    telemetry: { batch: () => undefined, queueDepth: () => undefined },
  });
}
