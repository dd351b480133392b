/**
 * OpenStack Swift with its S3 API (the `s3api` middleware) on loopback, for the S3 adapter's
 * contract suite: unlike s3rver it verifies SigV4 signatures, so a wrong secret is refused.
 * One process per server (proxy, account, container, object; `workers = 0`), 1-replica rings on
 * one directory device, memcached for tempauth's tokens. Debian: apt-get install swift swift-proxy
 * swift-account swift-container swift-object memcached.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './poll';
import { freePort } from './ports';
import { onPath } from './tools';

const tools = [
  'swift-ring-builder',
  'swift-proxy-server',
  'swift-account-server',
  'swift-container-server',
  'swift-object-server',
  'memcached',
];

/** Why Swift cannot run here, or null when every program is on PATH. */
export function swiftMissing(): string | null {
  for (const tool of tools)
    if (!onPath(tool))
      return `${tool} is not installed (Debian: apt-get install swift swift-proxy swift-account swift-container swift-object memcached)`;
  return null;
}

export interface Swift {
  /** The S3 endpoint (path-style). */
  endpoint: string;
  /** tempauth's user `test:tester`: the S3 access key is `account:user`, the secret its password. */
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

const ini = (sections: Record<string, Record<string, string | number>>) =>
  Object.entries(sections)
    .map(
      ([name, keys]) =>
        `[${name}]\n${Object.entries(keys)
          .map(([k, v]) => `${k} = ${v}`)
          .join('\n')}\n`,
    )
    .join('\n');

export async function startSwift(): Promise<Swift> {
  const dir = mkdtempSync(join(tmpdir(), 'capcheck-swift-'));
  mkdirSync(join(dir, 'srv', 'd1'), { recursive: true });
  const [proxyPort, accountPort, containerPort, objectPort, memcachedPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const common = { swift_dir: dir, user: process.env.USER ?? 'root', workers: 0, bind_ip: '127.0.0.1' };
  writeFileSync(
    join(dir, 'swift.conf'),
    ini({
      'swift-hash': { swift_hash_path_suffix: 'capcheck-test', swift_hash_path_prefix: 'capcheck-test' },
      'storage-policy:0': { name: 'Policy-0', default: 'yes' },
    }),
  );
  const servers = { account: accountPort!, container: containerPort!, object: objectPort! };
  for (const [kind, port] of Object.entries(servers)) {
    // One partition power of 2^6, one replica, one device: enough for a test, built in milliseconds.
    for (const args of [['create', '6', '1', '1'], ['add', `r1z1-127.0.0.1:${port}/d1`, '100'], ['rebalance']]) {
      const r = spawnSync('swift-ring-builder', [join(dir, `${kind}.builder`), ...args], { encoding: 'utf8' });
      if (r.status !== 0 && !(args[0] === 'rebalance' && r.status === 1))
        throw new Error(`swift-ring-builder ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    writeFileSync(
      join(dir, `${kind}-server.conf`),
      ini({
        DEFAULT: { ...common, bind_port: port, devices: join(dir, 'srv'), mount_check: 'false' },
        'pipeline:main': { pipeline: `${kind}-server` },
        [`app:${kind}-server`]: { use: `egg:swift#${kind}` },
      }),
    );
  }
  writeFileSync(
    join(dir, 'proxy-server.conf'),
    ini({
      DEFAULT: { ...common, bind_port: proxyPort! },
      'pipeline:main': {
        pipeline: 'catch_errors gatekeeper healthcheck proxy-logging cache s3api tempauth proxy-logging proxy-server',
      },
      'app:proxy-server': { use: 'egg:swift#proxy', account_autocreate: 'true' },
      'filter:tempauth': { use: 'egg:swift#tempauth', user_test_tester: 'testing .admin' },
      'filter:s3api': { use: 'egg:swift#s3api', location: 'us-east-1' },
      'filter:cache': { use: 'egg:swift#memcache', memcache_servers: `127.0.0.1:${memcachedPort}` },
      'filter:catch_errors': { use: 'egg:swift#catch_errors' },
      'filter:gatekeeper': { use: 'egg:swift#gatekeeper' },
      'filter:healthcheck': { use: 'egg:swift#healthcheck' },
      'filter:proxy-logging': { use: 'egg:swift#proxy_logging' },
    }),
  );

  const children: ChildProcess[] = [];
  let log = '';
  const run = (command: string, args: string[]) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    children.push(child);
  };
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('memcached', ['-l', '127.0.0.1', '-p', String(memcachedPort), '-U', '0', '-u', common.user]);
    for (const kind of [...Object.keys(servers), 'proxy'])
      run(`swift-${kind}-server`, [join(dir, `${kind}-server.conf`)]);
    const endpoint = `http://127.0.0.1:${proxyPort}`;
    // Python imports take most of the start-up: 29 s by hand here under load, 82 s inside a jest run
    // at load average 20 on 2 cores, over 180 s during a full `pnpm test` at load average 30.
    // The proxy's /healthcheck answers before the account, container and object servers do, and a
    // request that reaches one of them still importing is a 503 ("Please reduce your request rate"):
    // ready means every server answers HTTP (a backend answers any path, with an error status).
    const backends = Object.values(servers).map((port) => `http://127.0.0.1:${port}/`);
    await waitFor(
      'Swift proxy /healthcheck and the account, container and object servers',
      async () => {
        if (!(await fetch(`${endpoint}/healthcheck`)).ok) return undefined;
        await Promise.all(backends.map((url) => fetch(url)));
        return true;
      },
      { timeoutMs: 280_000, intervalMs: 200, ignoreErrors: true },
    );
    return { endpoint, accessKeyId: 'test:tester', secretAccessKey: 'testing', stop };
  } catch (err) {
    await stop();
    throw new Error(`Swift did not start: ${(err as Error).message}\n${log.slice(-3000)}`);
  }
}
