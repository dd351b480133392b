// pnpm bench: figures for the users service on this machine. The built local process runs in a child
// process (production bcrypt cost 12); autocannon drives it over loopback from this one.
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { benchPool, randomPort, root, startLocal, waitReady, withComment } from './lib.mjs';

const require = createRequire(import.meta.url);
const port = randomPort();
const base = `http://127.0.0.1:${port}`;
const seconds = Number(process.env.BENCH_SECONDS ?? 10);

const post = (path, body, headers = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  }).then((r) => r.json());

function run(title, options) {
  return new Promise((resolve, reject) => {
    autocannon({ url: `${base}${options.path}`, duration: seconds, ...options }, (err, result) => {
      if (err) return reject(err);
      const non2xx = result.non2xx + result.errors;
      const line = `${title.padEnd(44)} ${result.requests.average.toFixed(0).padStart(7)} req/s   p50 ${String(result.latency.p50).padStart(5)} ms   p99 ${String(result.latency.p99).padStart(5)} ms   non-2xx/errors ${non2xx}`;
      console.log(line);
      resolve(result);
    });
  });
}

const sections = new Set(process.argv.slice(2).length ? process.argv.slice(2) : ['users', 'images', 'inference']);
const child = startLocal(port);
try {
  await waitReady(`${base}/readyz`, child);
  const email = `bench-${Date.now()}@example.test`;
  const password = 'benchmark password';
  await post('/auth/register', { email, password });
  const { accessToken } = await post('/auth/login', { email, password });
  if (sections.has('users')) await benchUsers(email, password, accessToken);
  if (sections.has('images')) await benchImages(accessToken);
  if (sections.has('inference')) await benchInference(accessToken);
} finally {
  child.kill('SIGTERM');
}

async function benchUsers(email, password, accessToken) {
  console.log(
    `capcheck users benchmark — ${cpus().length} cores, node ${process.version}, ${seconds}s per run, bcrypt cost ${process.env.BCRYPT_COST ?? 12}`,
  );
  await run('POST /auth/login (bcrypt verify), 8 conns', {
    connections: 8,
    method: 'POST',
    path: '/auth/login',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  await run('GET /users/me (JWT verify + read), 16 conns', {
    connections: 16,
    path: '/users/me',
    headers: { authorization: `Bearer ${accessToken}` },
  });
  await run('GET /healthz (HTTP shell floor), 16 conns', { connections: 16, path: '/healthz' });

  // Login answers an unknown email and a wrong password in about the same time (one bcrypt check each).
  const timeLogins = async (body) => {
    const samples = [];
    for (let i = 0; i < 15; i++) {
      const t = process.hrtime.bigint();
      await fetch(`${base}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
  };
  const wrongPassword = await timeLogins({ email, password: 'not the password' });
  const unknownEmail = await timeLogins({ email: `nobody-${Date.now()}@example.test`, password });
  console.log(
    `${'login 401 median: wrong password / unknown email'.padEnd(44)} ${wrongPassword.toFixed(0)} ms / ${unknownEmail.toFixed(0)} ms`,
  );

  // Token verification alone, in this process: what a service pays per request before its own work.
  const { createAccessTokenVerifier, remoteSigningKeys } = require(join(root, 'shared/dist/index.js'));
  // cacheSize 0: measure the signature check itself, not the verified-token cache.
  const verifier = createAccessTokenVerifier({
    cacheSize: 0,
    issuer: 'capcheck',
    audience: 'capcheck-api',
    keys: remoteSigningKeys({ url: `${base}/.well-known/jwks.json` }),
  });
  await verifier.verify(accessToken); // fetch and cache the JWKS once
  const n = 20000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await verifier.verify(accessToken);
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `${'ES256 verify (jose, JWKS cached), 1 thread'.padEnd(44)} ${(n / elapsed).toFixed(0).padStart(7)} verifications/s`,
  );
}

// Uploads of ~200 KB JPEGs as multipart bodies. Every request is made unique by a JPEG comment
// segment (FF FE) carrying a counter, so each one is decoded, hashed and written as a new blob.
async function benchImages(accessToken) {
  const sharp = require(join(root, 'services/images/node_modules/sharp'));
  const { randomBytes } = await import('node:crypto');
  const boundary = '----capcheckbench';
  const bases = [];
  for (let i = 0; i < 16; i++) {
    bases.push(
      await sharp(randomBytes(640 * 400 * 3), { raw: { width: 640, height: 400, channels: 3 } })
        .jpeg({ quality: 90 })
        .toBuffer(),
    );
  }
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="b.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  let counter = 0;
  const uniqueBody = () => {
    const n = counter++;
    const base = bases[n % bases.length];
    return Buffer.concat([head, withComment(base, `capcheck bench ${process.pid} ${n}`), tail]);
  };
  const kb = (bases.reduce((n, b) => n + b.length, 0) / bases.length / 1024).toFixed(0);
  const options = (connections) => ({
    connections,
    path: '/images',
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    requests: [{ setupRequest: (req) => ({ ...req, body: uniqueBody() }) }],
  });
  console.log(`images: uploads of ${kb} KB JPEGs, every one distinct (new blob, new record, event)`);
  await run('POST /images, 1 client', options(1));
  await run('POST /images, 16 concurrent clients', options(16));
}

// Predictions: uncached (each image asked once), cached (one image over and over), and the bare
// pipeline without HTTP (decode + letterbox as the manifest says + session.run) so the serving overhead is a ratio.
async function benchInference(accessToken) {
  const { readFileSync } = await import('node:fs');
  const { randomUUID } = await import('node:crypto');
  const { availableParallelism } = await import('node:os');
  const sample = readFileSync(join(root, 'models/bottle-state/samples/closed-1.jpg'));
  const unique = () => withComment(sample, randomUUID());
  const uploadMany = async (n) => {
    const ids = [];
    for (let i = 0; i < n; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, n - i) }, async () => {
          const form = new FormData();
          form.append('image', new Blob([unique()]), 'b.jpg');
          const res = await fetch(`${base}/images`, {
            method: 'POST',
            headers: { authorization: `Bearer ${accessToken}` },
            body: form,
          });
          return (await res.json()).id;
        }),
      );
      ids.push(...batch);
    }
    return ids;
  };
  const uncached = async (title, connections, n) => {
    const ids = await uploadMany(n);
    let next = 0;
    // Timed here: autocannon reports a fixed-count run's duration in whole seconds.
    const started = process.hrtime.bigint();
    const result = await run(title, {
      connections,
      path: '/predict/x',
      amount: n,
      headers: { authorization: `Bearer ${accessToken}` },
      requests: [{ setupRequest: (req) => ({ ...req, path: `/predict/${ids[next++]}` }) }],
    });
    const rate = n / (Number(process.hrtime.bigint() - started) / 1e9);
    console.log(`${''.padEnd(44)} measured: ${rate.toFixed(0)} images/s over ${n} distinct images`);
    return { result, rate };
  };
  // What the local process serves: MODEL_VERSION, else the newest shipped version.
  const inference = require(join(root, 'services/inference/dist/index.js'));
  const models = join(root, 'models');
  const manifest = await inference.readModelManifest(
    models,
    'bottle-state',
    process.env.MODEL_VERSION ?? (await inference.latestVersion(models, 'bottle-state')),
  );
  const [height, width] = manifest.inputShape;
  console.log(
    `inference: ${sample.length} B generated JPEG (256×256), model bottle-state/${manifest.version} ` +
      `(${width}×${height} input), ${availableParallelism()} workers`,
  );
  const one = await uncached('GET /predict uncached, 1 client', 1, 1500);
  const many = await uncached('GET /predict uncached, 16 clients', 16, 3000);
  const [cachedId] = await uploadMany(1);
  await fetch(`${base}/predict/${cachedId}`, { headers: { authorization: `Bearer ${accessToken}` } });
  await run('GET /predict cached, 16 clients', {
    connections: 16,
    path: `/predict/${cachedId}`,
    headers: { authorization: `Bearer ${accessToken}` },
  });

  // The bare limit, in this process, with the server idle.
  const ort = require(join(root, 'services/inference/node_modules/onnxruntime-node'));
  const session = await ort.InferenceSession.create(manifest.modelPath, { intraOpNumThreads: 1 });
  const n = 1000;
  let started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const pixels = await inference.preprocess(sample, manifest, 40e6);
    await session.run({ image: new ort.Tensor('uint8', pixels, [1, ...manifest.inputShape]) });
  }
  const single = n / (Number(process.hrtime.bigint() - started) / 1e9);
  console.log(`${'bare: decode + session.run, 1 thread, loop'.padEnd(44)} ${single.toFixed(0).padStart(7)} images/s`);
  const pool = await benchPool(inference, manifest);
  started = process.hrtime.bigint();
  let done = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (done < 2 * n) {
        done++;
        await pool.classify(sample);
      }
    }),
  );
  const bare = (2 * n) / (Number(process.hrtime.bigint() - started) / 1e9);
  await pool.close();
  console.log(`${'bare: decode + worker pool, 16 in flight'.padEnd(44)} ${bare.toFixed(0).padStart(7)} images/s`);

  // Does batching pay on this CPU? session.run alone, per image, at batch 1 and 8.
  const pixels = await inference.preprocess(sample, manifest, 40e6);
  for (const size of [1, 8]) {
    const batch = new Uint8Array(size * pixels.length);
    for (let i = 0; i < size; i++) batch.set(pixels, i * pixels.length);
    const input = { image: new ort.Tensor('uint8', batch, [size, ...manifest.inputShape]) };
    const runs = Math.ceil(400 / size);
    started = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) await session.run(input);
    const perImage = Number(process.hrtime.bigint() - started) / 1e6 / (runs * size);
    console.log(
      `${`session.run alone, batch ${size}, 1 thread`.padEnd(44)} ${perImage.toFixed(2).padStart(7)} ms per image`,
    );
  }
  console.log(
    `serving/bare: 1 client ${((one.rate / single) * 100).toFixed(0)}% of 1-thread bare; 16 clients ${((many.rate / bare) * 100).toFixed(0)}% of the pool bare limit`,
  );
}
