// What the benches share: the built local process in a child, waiting for a server, a fixed-count
// load run that reports its rate and latencies, and JPEGs made distinct by a comment segment.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..');

export const randomPort = () => 18000 + Math.floor(Math.random() * 1000);

/** The built local process (every service in one), on loopback, its data in a fresh temp folder. */
export function startLocal(port, env = {}) {
  // BENCH_NODE_ARGS: flags for the server's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const dataDir = mkdtempSync(join(tmpdir(), 'capcheck-bench-'));
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'local/dist/main.js')], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'error',
      BCRYPT_COST: process.env.BCRYPT_COST ?? '12',
      LOGIN_ATTEMPTS_PER_IP: '1000000000',
      LOGIN_ATTEMPTS_PER_ACCOUNT: '1000000000',
      REGISTRATIONS_PER_IP_PER_HOUR: '1000000',
      MAX_CONCURRENT_UPLOADS_PER_USER: '64', // the bench uploads its pictures 8 at a time
      INFERENCE_PRECOMPUTE: 'false',
      // the version to measure (default: what the local process serves, the newest shipped one)
      ...(process.env.MODEL_VERSION ? { MODEL_VERSION: process.env.MODEL_VERSION } : {}),
      // the pool's and libuv's settings pass through, to try other splits of the cores
      ...Object.fromEntries(
        Object.entries(process.env).filter(([name]) => /^(INFERENCE_|UV_THREADPOOL_SIZE$)/.test(name)),
      ),
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  // A round uploads thousands of pictures (about 100 MB): gone with the server, not left in the temp folder.
  child.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  return child;
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

/**
 * Uploads the pictures to capcheck, 8 at a time, each made distinct by a comment (`<tag> <index>`), and
 * returns their image ids in order. Not timed.
 */
export async function uploadPictures(url, token, pictures, tag) {
  const ids = new Array(pictures.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < pictures.length) {
        const i = next++;
        const form = new FormData();
        form.append('image', new Blob([withComment(pictures[i], `${tag} ${i}`)]), 'p.jpg');
        const res = await fetch(`${url}/images`, { method: 'POST', headers: { authorization: token }, body: form });
        if (res.status !== 201) throw new Error(`upload ${i}: ${res.status} ${await res.text()}`);
        ids[i] = (await res.json()).id;
      }
    }),
  );
  return ids;
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
 * answered; `next(i)` gives request i's path, and body and headers for a POST. Every request is encoded
 * before the clock starts, and the client speaks HTTP/1.1 over plain sockets (`leanConnection`): the load
 * generator shares the machine's cores with the server, so the less it spends a request, the nearer the
 * figure is to what the server does with clients elsewhere. Both servers are driven alike; latencies are
 * measured per request, and the CPU the server (`serverPid` and its children) and this client spent per
 * request.
 */
export async function measure({ url, connections, amount, method = 'GET', headers = {}, next, serverPid }) {
  const { hostname, port } = new URL(url);
  const requests = Array.from({ length: amount }, (_, i) => {
    const request = next(i);
    return encodeRequest(method, request.path, `${hostname}:${port}`, { ...headers, ...request.headers }, request.body);
  });
  const cpuBefore = serverPid ? cpuSeconds(serverPid) : NaN;
  const clientBefore = process.cpuUsage();
  const latencies = [];
  let failed = 0;
  let issued = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const connection = leanConnection(hostname, Number(port));
      try {
        while (issued < amount) {
          const sent = process.hrtime.bigint();
          const status = await connection.exchange(requests[issued++]);
          if (status < 200 || status >= 300) failed++;
          latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
        }
      } finally {
        connection.close();
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const client = process.cpuUsage(clientBefore);
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    perSecond: amount / seconds,
    p50: at(0.5),
    p99: at(0.99),
    failed,
    seconds,
    serverCpuMs: ((cpuSeconds(serverPid) - cpuBefore) * 1000) / amount,
    clientCpuMs: (client.user + client.system) / 1000 / amount,
  };
}

/** One HTTP/1.1 request as bytes. */
function encodeRequest(method, path, host, headers, body) {
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${host}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body) lines.push(`content-length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body ? Buffer.concat([head, body]) : head;
}

const headEnd = Buffer.from('\r\n\r\n');

/**
 * A keep-alive connection that sends one request at a time and reads its answer with the least parsing:
 * the status, Content-Length and Connection headers. A server that closes after answering (gunicorn's sync
 * workers do) gets a new connection for the next request. A chunked answer is refused loudly: neither
 * server sends one. A failed exchange resolves to status 0, on a new connection.
 */
export function leanConnection(host, port) {
  let socket = null;
  let pending = null; // { resolve, chunks, received, headLength, bodyLength, status, closeAfter }
  let timer = null;
  const finish = (status, reconnect) => {
    const { resolve } = pending;
    pending = null;
    clearTimeout(timer);
    if (reconnect) {
      socket?.destroy();
      socket = null;
    }
    resolve(status);
  };
  const onData = (chunk) => {
    if (!pending) return;
    pending.chunks.push(chunk);
    pending.received += chunk.length;
    if (pending.headLength < 0) {
      const all = pending.chunks.length === 1 ? chunk : Buffer.concat(pending.chunks);
      pending.chunks = [all];
      const end = all.indexOf(headEnd);
      if (end < 0) return;
      const head = all.toString('latin1', 0, end).toLowerCase();
      if (/\r\ntransfer-encoding:/.test(head)) throw new Error('a chunked answer: not expected from either server');
      pending.status = Number(head.slice(9, 12));
      pending.headLength = end + 4;
      pending.bodyLength = Number(/\r\ncontent-length: *(\d+)/.exec(head)?.[1] ?? 0);
      pending.closeAfter = /\r\nconnection: *close/.test(head);
    }
    if (pending.received >= pending.headLength + pending.bodyLength) finish(pending.status, pending.closeAfter);
  };
  const open = () => {
    const s = connect({ host, port, noDelay: true });
    s.on('data', onData);
    s.on('error', () => undefined); // the close that follows settles the exchange
    s.on('close', () => {
      // A socket this side already replaced (after a "Connection: close" answer) settles nothing.
      if (socket !== s) return;
      socket = null;
      if (pending) finish(0, false);
    });
    return s;
  };
  return {
    /** Sends one encoded request and resolves to the answer's status (0 when it failed). */
    exchange(request) {
      return new Promise((resolve) => {
        socket ??= open();
        pending = { resolve, chunks: [], received: 0, headLength: -1, bodyLength: 0, status: 0, closeAfter: false };
        timer = setTimeout(() => pending && finish(0, true), 60_000);
        socket.write(request);
      });
    },
    close() {
      socket?.destroy();
    },
  };
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

/**
 * The bare limit's work: every picture decoded and letterboxed as the manifest says and run through
 * `pool`, `inFlight` at a time, in this process, no HTTP. The pool's workers decode, as the service's
 * do (`pool.classify`). Resolves to its seconds.
 */
export async function decodeAndInferAll(pool, pictures, inFlight) {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < pictures.length) await pool.classify(pictures[next++]);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** The bare limit's worker pool: one worker per core, batches of up to 8, a queue that never refuses. */
export function benchPool(inference, manifest) {
  return inference.createInferencePool({
    model: manifest,
    maxImagePixels: 40e6,
    workers: availableParallelism(),
    maxBatch: 8,
    maxQueue: 10000,
    telemetry: { batch: () => undefined, queueDepth: () => undefined },
  });
}
