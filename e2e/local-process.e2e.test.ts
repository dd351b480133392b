/**
 * Drives the real, built local process (`node local/dist/main.js`, what `pnpm start` runs) over HTTP as
 * a user with curl would. `pnpm test` builds first.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, uniqueEmail, uploadFile } from '../test-support/http';
import { jpeg, png } from '../test-support/images';

const entry = join(__dirname, '..', 'local', 'dist', 'main.js');

// Each test starts the built process (two of them twice): about 10 s on an idle machine, 20 s and more
// on a busy one, where the default 20 s would fail a test for the machine's load, not the code.
jest.setTimeout(60_000);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startProcess(env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [entry], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), BCRYPT_COST: '4', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Ready when it logs that it listens (no polling, no sleeps).
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (output.includes('capcheck is listening')) resolve();
    };
    child.stdout?.on('data', onData);
    exited.then((code) => reject(new Error(`exited early with ${code}: ${output}`)));
  });
  return { child, baseUrl: `http://127.0.0.1:${port}`, output: () => output, exited };
}

beforeAll(() => {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`pnpm build\` (pnpm test does)`);
});

test('the journey of the README: register, log in, /users/me, API key traded and revoked; SIGTERM exits cleanly', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'capcheck-e2e-'));
  const proc = await startProcess({ DATA_DIR: dataDir });
  const api = client(proc.baseUrl);
  try {
    const email = uniqueEmail('e2e');
    const password = 'a good long password';
    const registered = await api.post('/auth/register', { json: { email, password } });
    expect(registered.status).toBe(201);
    const login = await api.post<{ accessToken: string }>('/auth/login', { json: { email, password } });
    expect(login.status).toBe(200);
    const me = await api.get('/users/me', { token: login.body.accessToken });
    expect(me.body).toMatchObject({ email, role: 'user' });

    const key = await api.post<{ id: string; key: string }>('/users/me/api-keys', {
      token: login.body.accessToken,
      json: { name: 'line 1' },
    });
    expect(key.status).toBe(201);
    const traded = await api.post<{ accessToken: string }>('/auth/token', { headers: { 'x-api-key': key.body.key } });
    expect(traded.status).toBe(200);
    expect((await api.get('/users/me', { token: traded.body.accessToken })).status).toBe(200);
    expect((await api.delete(`/users/me/api-keys/${key.body.id}`, { token: login.body.accessToken })).status).toBe(204);
    expect((await api.post('/auth/token', { headers: { 'x-api-key': key.body.key } })).status).toBe(401);

    // The signing key was generated on first start, kept under the data directory, private to its owner.
    const keyFile = join(dataDir, 'keys', 'signing-keys.json');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  } finally {
    proc.child.kill('SIGTERM');
  }
  expect(await proc.exited).toBe(0);
  const lines = proc
    .output()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.some((l) => l.msg === 'shutdown: complete')).toBe(true);
  const requestLines = lines.filter((l) => l.msg === 'request completed');
  expect(requestLines.length).toBeGreaterThan(0);
  for (const line of requestLines) expect((line.req as { id?: string }).id).toBeTruthy();
  // Secrets never reach the logs.
  expect(proc.output()).not.toMatch(/a good long password|cck_[A-Za-z0-9_-]{20}/);
});

test('keys and accounts survive a restart on the same data directory', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'capcheck-e2e-'));
  const email = uniqueEmail('restart');
  const password = 'a good long password';
  const first = await startProcess({ DATA_DIR: dataDir });
  const login = await (async () => {
    const api = client(first.baseUrl);
    await api.post('/auth/register', { json: { email, password } });
    return api.post<{ accessToken: string }>('/auth/login', { json: { email, password } });
  })();
  first.child.kill('SIGTERM');
  expect(await first.exited).toBe(0);

  const second = await startProcess({ DATA_DIR: dataDir });
  try {
    const api = client(second.baseUrl);
    expect((await api.get('/users/me', { token: login.body.accessToken })).status).toBe(200);
    expect((await api.post('/auth/login', { json: { email, password } })).status).toBe(200);
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
});

test('images through the built process: upload, list, read back, delete; uploads survive a restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'capcheck-e2e-'));
  const email = uniqueEmail('images');
  const password = 'a good long password';
  const first = await startProcess({ DATA_DIR: dataDir });
  const kept = await png(50, 40);
  let token: string;
  let keptId: string;
  try {
    const api = client(first.baseUrl);
    await api.post('/auth/register', { json: { email, password } });
    token = (await api.post<{ accessToken: string }>('/auth/login', { json: { email, password } })).body.accessToken;
    const photo = await jpeg(320, 240);
    const uploaded = await uploadFile(first.baseUrl, token, { bytes: photo, filename: 'bottle.jpg' });
    expect(uploaded.status).toBe(201);
    expect(uploaded.body).toMatchObject({ format: 'jpeg', width: 320, height: 240, sizeBytes: photo.length });
    const id = String(uploaded.body.id);
    const content = await fetch(`${first.baseUrl}/images/${id}/content`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(Buffer.from(await content.arrayBuffer()).equals(photo)).toBe(true);
    expect((await api.delete(`/images/${id}`, { token })).status).toBe(204);
    expect((await api.get(`/images/${id}`, { token })).status).toBe(404);
    expect(
      (await uploadFile(first.baseUrl, token, { bytes: Buffer.from('not an image'), filename: 'x.jpg' })).status,
    ).toBe(415);
    keptId = String((await uploadFile(first.baseUrl, token, { bytes: kept })).body.id);
  } finally {
    first.child.kill('SIGTERM');
  }
  expect(await first.exited).toBe(0);

  const second = await startProcess({ DATA_DIR: dataDir });
  try {
    const listed = await client(second.baseUrl).get<{ items: { id: string }[] }>('/images', { token });
    expect(listed.body.items.map((i) => i.id)).toEqual([keptId]);
    const content = await fetch(`${second.baseUrl}/images/${keptId}/content`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(Buffer.from(await content.arrayBuffer()).equals(kept)).toBe(true);
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
});

test.each([
  [{ PORT: 'eighty' }, /PORT:/],
  [{ MAX_UPLOAD_BYTES: '-1' }, /MAX_UPLOAD_BYTES:/],
  [{ EVENT_BUS: 'kafka' }, /EVENT_BUS:/],
  [{ ADMIN_ALLOWLIST: 'everyone' }, /ADMIN_ALLOWLIST:.*everyone/],
  [{ METADATA_STORE: 'mongo' }, /MONGO_URL: required when METADATA_STORE=mongo/],
  [{ JWT_SIGNING_KEYS: '{"keys":[]}' }, /^Invalid configuration:\n {2}JWT_SIGNING_KEYS: must be/],
])('a bad setting %j stops the process with a message naming it', (env, message) => {
  const result = spawnSync(process.execPath, [entry], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: mkdtempSync(join(tmpdir(), 'capcheck-e2e-')), ...env },
    encoding: 'utf8',
    timeout: 15000,
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(message);
});
