/**
 * The production shape without Docker: users and images as separate built processes, images checking
 * tokens against the users service's JWKS over HTTP; each keeps its own tables (here in one SQLite file
 * under a shared DATA_DIR, each with its own schema version).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, uniqueEmail, uploadFile } from '../test-support/http';
import { jpeg } from '../test-support/images';
import { samplePicture } from '../test-support/models';

const root = join(__dirname, '..');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function start(
  entry: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [join(root, entry)], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      output += d;
      if (output.includes('is listening')) resolve();
    });
    child.stderr?.on('data', (d) => (output += d));
    exited.then((code) => reject(new Error(`${entry} exited with ${code}: ${output}`)));
  });
  return { child, exited };
}

test('users, images and inference as separate processes: JWKS over HTTP, inference reads images with the caller token', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'capcheck-split-'));
  const [usersPort, imagesPort, inferencePort] = [await freePort(), await freePort(), await freePort()];
  const common = { DATA_DIR: dataDir, BCRYPT_COST: '4', LOG_LEVEL: 'info' };
  const users = await start('services/users/dist/main.js', { ...common, PORT: String(usersPort) });
  const images = await start('services/images/dist/main.js', {
    ...common,
    PORT: String(imagesPort),
    JWKS_URL: `http://127.0.0.1:${usersPort}/.well-known/jwks.json`,
    USERS_URL: `http://127.0.0.1:${usersPort}`,
  });
  const inference = await start('services/inference/dist/main.js', {
    ...common,
    PORT: String(inferencePort),
    JWKS_URL: `http://127.0.0.1:${usersPort}/.well-known/jwks.json`,
    USERS_URL: `http://127.0.0.1:${usersPort}`,
    IMAGES_URL: `http://127.0.0.1:${imagesPort}`,
    INFERENCE_WORKERS: '1',
  });
  try {
    const usersApi = client(`http://127.0.0.1:${usersPort}`);
    const imagesUrl = `http://127.0.0.1:${imagesPort}`;
    const email = uniqueEmail('split');
    await usersApi.post('/auth/register', { json: { email, password: 'a good long password' } });
    const login = await usersApi.post<{ accessToken: string }>('/auth/login', {
      json: { email, password: 'a good long password' },
    });
    const uploaded = await uploadFile(imagesUrl, login.body.accessToken, { bytes: await jpeg() });
    expect(uploaded.status).toBe(201);
    expect((await uploadFile(imagesUrl, 'forged.token.here', { bytes: await jpeg() })).status).toBe(401);
    // Each service answers only for its own routes.
    expect((await client(imagesUrl).get('/users/me', { token: login.body.accessToken })).status).toBe(404);
    expect((await client(imagesUrl).get('/readyz')).body).toEqual({
      status: 'ready',
      checks: { metadata: 'ok', blobs: 'ok', disk: 'ok', users: 'ok' },
    });

    // Inference, a third process, reads the image from images with the caller's own token.
    const inferenceApi = client(`http://127.0.0.1:${inferencePort}`);
    // It listens before its model has loaded (readiness says when); wait for that, bounded.
    const deadline = Date.now() + 15_000;
    while ((await inferenceApi.get('/readyz')).status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const sample = samplePicture('open-1.jpg');
    expect((await inferenceApi.get('/readyz')).body).toMatchObject({ status: 'ready', checks: { model: 'ok' } });
    const open = await uploadFile(imagesUrl, login.body.accessToken, { bytes: sample });
    const predicted = await inferenceApi.get(`/predict/${String(open.body.id)}`, { token: login.body.accessToken });
    expect(predicted.status).toBe(200);
    expect(predicted.body).toMatchObject({ label: 'open', model: { name: 'bottle-state' }, cached: false });
    const otherEmail = uniqueEmail('other');
    await usersApi.post('/auth/register', { json: { email: otherEmail, password: 'a good long password' } });
    const other = await usersApi.post<{ accessToken: string }>('/auth/login', {
      json: { email: otherEmail, password: 'a good long password' },
    });
    expect((await inferenceApi.get(`/predict/${String(open.body.id)}`, { token: other.body.accessToken })).status).toBe(
      404,
    );
  } finally {
    inference.child.kill('SIGTERM');
    images.child.kill('SIGTERM');
    users.child.kill('SIGTERM');
  }
  expect(await inference.exited).toBe(0);
  expect(await images.exited).toBe(0);
  expect(await users.exited).toBe(0);
  // Three processes start and one loads the model: ~10 s on an idle machine, over 20 s on a busy one.
}, 60_000);
