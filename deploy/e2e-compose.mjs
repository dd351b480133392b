#!/usr/bin/env node
// The compose stack end to end, on a machine with Docker (`pnpm e2e:compose`):
// up (built from this checkout) -> register, log in, upload, predict through Traefik -> /admin
// allowed from the host and refused from inside the network -> stop a replica, requests still
// succeed -> the gateway's error page -> down (volumes removed). Exits non-zero on the first failure.
//
// It uses its own compose project name and port, and a throwaway .env and signing key, so it never
// touches a stack you run yourself. KEEP=1 leaves the stack up for a look.
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const port = process.env.E2E_HTTP_PORT ?? '18080';
const base = `http://127.0.0.1:${port}`;
const project = 'capcheck-e2e';
const work = mkdtempSync(join(tmpdir(), 'capcheck-e2e-'));

// A fresh .env: every secret random, the gateway on a spare port, the allow-list = the host.
const envFile = join(work, '.env');
writeFileSync(
  envFile,
  readFileSync(join(root, '.env.example'), 'utf8')
    .replace(/=change-me$/gm, () => `=${randomBytes(16).toString('hex')}`)
    .replace(/^HTTP_PORT=.*$/m, `HTTP_PORT=${port}`)
    .replace(/^ADMIN_EMAILS=.*$/m, 'ADMIN_EMAILS=admin@e2e.test'),
  { mode: 0o600 },
);
const keysFile = join(root, 'deploy', 'secrets', 'jwt_signing_keys.json');
const haveKeys = spawnSync('test', ['-f', keysFile]).status === 0;
if (!haveKeys) {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  writeFileSync(keysFile, JSON.stringify({ keys: [jwk] }), { mode: 0o600 });
}

const compose = (...args) =>
  execFileSync(
    'docker',
    ['compose', '-p', project, '--env-file', envFile, '-f', join(root, 'docker-compose.yml'), ...args],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    },
  );

let step = '';
const check = (ok, what) => {
  if (!ok) throw new Error(`${step}: ${what}`);
  console.log(`  ok  ${what}`);
};

/** Polls until `probe` returns a truthy value or the deadline passes (no fixed sleeps). */
async function until(what, probe, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${step}: timed out waiting for ${what} (last: ${last})`);
}

async function main() {
  step = 'up';
  console.log('building and starting the stack (first build takes a few minutes)...');
  compose('up', '-d', '--build', '--wait', '--wait-timeout', '300');
  check(true, 'every container healthy');
  // Traefik's own health checks must see the replicas ready before routing to them.
  await until('the API behind Traefik', async () => (await fetch(`${base}/.well-known/jwks.json`)).status === 200);

  step = 'register, upload, predict';
  const email = `e2e-${Date.now()}@e2e.test`;
  const password = 'a long e2e passphrase';
  const json = { 'content-type': 'application/json' };
  let res = await fetch(`${base}/auth/register`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, password }),
  });
  check(res.status === 201, `POST /auth/register -> 201 (got ${res.status})`);
  res = await fetch(`${base}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password }) });
  const { accessToken } = await res.json();
  check(res.status === 200 && accessToken, 'POST /auth/login -> a token');
  const auth = { authorization: `Bearer ${accessToken}` };
  const form = new FormData();
  const sample = readFileSync(join(root, 'models', 'bottle-state', 'samples', 'closed-1.jpg'));
  form.set('image', new Blob([sample], { type: 'image/jpeg' }), 'closed-1.jpg');
  res = await fetch(`${base}/images`, { method: 'POST', headers: auth, body: form });
  const image = await res.json();
  check(res.status === 201 && image.id, `POST /images -> 201 (got ${res.status})`);
  res = await fetch(`${base}/predict/${image.id}`, { headers: auth });
  const verdict = await res.json();
  check(
    res.status === 200 && verdict.label === 'closed',
    `GET /predict/:id -> closed (got ${res.status} ${verdict.label})`,
  );
  res = await fetch(`${base}/predict/${image.id}`);
  check(res.status === 401, `no token -> 401 from the general pool (got ${res.status})`);

  step = '/admin allow-list';
  res = await fetch(`${base}/admin/prometheus/-/ready`);
  check(res.status === 200, `from the host (allow-listed): /admin/prometheus -> 200 (got ${res.status})`);
  res = await fetch(`${base}/admin/traefik/api/overview`);
  check(res.status === 200, `from the host: Traefik's API -> 200 (got ${res.status})`);
  // From a container on the internal network: Traefik sees its backend address, not the host's.
  const inside = spawnSync(
    'docker',
    [
      'compose',
      '-p',
      project,
      '--env-file',
      envFile,
      'exec',
      '-T',
      'nginx',
      'wget',
      '-S',
      '-q',
      '-O',
      '-',
      'http://traefik:8000/admin/prometheus/-/ready',
    ],
    { cwd: root, encoding: 'utf8' },
  );
  check(/HTTP\/1\.1 404/.test(inside.stderr), 'from inside the network (not allow-listed): /admin -> 404');

  step = 'a replica stops';
  const ids = compose('ps', '-q', 'users').trim().split('\n');
  check(ids.length === 3, `users runs 3 replicas (${ids.length})`);
  execFileSync('docker', ['stop', ids[0]], { stdio: 'ignore' });
  let ok = 0;
  for (let i = 0; i < 30; i++) {
    const r = await fetch(`${base}/users/me`, { headers: auth });
    if (r.status === 200) ok++;
  }
  check(ok === 30, `30 requests after stopping a users replica: ${ok} succeeded`);
  execFileSync('docker', ['start', ids[0]], { stdio: 'ignore' });

  step = 'error page';
  // Both images replicas stopped: Traefik has no server for a moment (502/503 from the gateway,
  // or nginx's page for 502/504). A JSON client gets JSON in the API's error shape.
  const imageIds = compose('ps', '-q', 'images').trim().split('\n');
  execFileSync('docker', ['kill', ...imageIds], { stdio: 'ignore' });
  const failed = await until(
    'a gateway error',
    async () => {
      const r = await fetch(`${base}/images`, { headers: { ...auth, accept: 'application/json' } });
      return r.status >= 502 ? r : null;
    },
    30_000,
  );
  const body = await failed.text();
  check([502, 503, 504].includes(failed.status), `images down -> ${failed.status}`);
  if (failed.status !== 503)
    check(JSON.parse(body).error?.code !== undefined, `the body is nginx's JSON error page: ${body.slice(0, 80)}`);
  const page = await fetch(`${base}/no/such/page`, { headers: { accept: 'text/html' } });
  check(page.status === 404 || page.status === 200, `a browser on an unknown path gets nginx (${page.status})`);
  res = await fetch(`${base}/errors/502`, { headers: { accept: 'application/json' } });
  check(
    res.status === 502 && (await res.json()).error?.code,
    'nginx error page /errors/502 answers JSON through Traefik',
  );
}

main()
  .then(() => console.log('compose e2e: passed'))
  .catch((err) => {
    console.error(`compose e2e: FAILED: ${err.message}`);
    try {
      console.error(compose('ps', '-a'));
      console.error(compose('logs', '--tail', '40', 'traefik'));
    } catch {
      // Diagnostics only: the failure above is what matters.
    }
    process.exitCode = 1;
  })
  .finally(() => {
    if (process.env.KEEP === '1')
      return console.log(`left running: docker compose -p ${project} --env-file ${envFile} down -v`);
    try {
      compose('down', '-v', '--remove-orphans');
    } catch {
      // Nothing left to stop.
    }
  });
