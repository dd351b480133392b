import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signUp, startLocal, type LocalSystem } from '../../test-support/local';
import { uniqueEmail, uploadFile } from '../../test-support/http';
import { samplePicture } from '../../test-support/models';

/**
 * The whole local process on a 4 MiB tmpfs that then fills up: writes answer 507, reads keep working,
 * /readyz names the full disk, and a verdict is answered even though it cannot be cached. Mounting
 * needs root; elsewhere the suite is skipped, visibly.
 */
const isRoot = process.getuid?.() === 0;
const mountPoint = mkdtempSync(join(tmpdir(), 'capcheck-full-'));

function fillDisk(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

(isRoot ? describe : describe.skip)('a full disk', () => {
  let sys: LocalSystem;
  beforeAll(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
    const dataDir = join(mountPoint, 'data');
    mkdirSync(dataDir);
    sys = await startLocal(
      {
        UPLOAD_TMP_DIR: join(dataDir, 'uploads'),
        MIN_FREE_DISK_BYTES: String(256 * 1024),
        INFERENCE_PRECOMPUTE: 'false',
      },
      {},
      dataDir,
    );
  });
  afterAll(async () => {
    await sys?.close();
    execFileSync('umount', ['-l', mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  test('writes get 507 insufficient_storage, reads and verdicts keep working, /readyz reports it', async () => {
    const owner = await signUp(sys.api, uniqueEmail());
    const picture = samplePicture('closed-1.jpg');
    const stored = await uploadFile(sys.baseUrl, owner.accessToken, { bytes: picture, filename: 'before.jpg' });
    expect(stored.status).toBe(201);
    expect((await sys.api.get('/readyz')).status).toBe(200);

    fillDisk(join(mountPoint, 'data'));

    const upload = await uploadFile(sys.baseUrl, owner.accessToken, { bytes: picture, filename: 'after.jpg' });
    expect(upload.status).toBe(507);
    expect(upload.body).toEqual({ error: { code: 'insufficient_storage', message: expect.any(String) } });
    const register = await sys.api.post('/auth/register', {
      json: { email: uniqueEmail(), password: 'correct horse battery' },
    });
    expect(register.status).toBe(507);

    const id = String(stored.body.id);
    expect((await sys.api.get('/images', { token: owner.accessToken })).status).toBe(200);
    const content = await fetch(`${sys.baseUrl}/images/${id}/content`, {
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(content.status).toBe(200);
    expect(Buffer.from(await content.arrayBuffer()).equals(picture)).toBe(true);
    const verdict = await sys.api.get(`/predict/${id}`, { token: owner.accessToken });
    expect(verdict.status).toBe(200);
    expect(verdict.body).toMatchObject({ label: expect.any(String), cached: false });

    const ready = await sys.api.get<{ checks: Record<string, string> }>('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.disk).toMatch(/^full: /);
  });
});
