import { uploadFile } from '../../../test-support/http';
import { samplePicture } from '../../../test-support/models';
import { waitFor } from '../../../test-support/poll';
import { startInference, type InferenceSystem } from '../../../test-support/services';

/** Inference deployed alone while the images service it reads through hangs, then comes back. */
let sys: InferenceSystem;
beforeAll(async () => {
  sys = await startInference(
    { IMAGES_TIMEOUT_MS: '300', IMAGES_BREAKER_FAILURES: '3', IMAGES_BREAKER_OPEN_MS: '1000' },
    { imagesLine: true },
  );
});
afterAll(() => sys.close());

test('with images hung: each call waits one short deadline, then the circuit fails fast and /readyz says so; it recovers', async () => {
  const user = await sys.signUp();
  const uploaded = await uploadFile(sys.images.baseUrl, user.accessToken, {
    bytes: samplePicture('closed-1.jpg'),
    filename: 'bottle.jpg',
  });
  const path = `/predict/${String(uploaded.body.id)}`;
  expect((await sys.api.get(path, { token: user.accessToken })).status).toBe(200);

  sys.imagesLine!.hang();
  const timed = async () => {
    const started = Date.now();
    const res = await sys.api.get(path, { token: user.accessToken });
    return { res, ms: Date.now() - started };
  };
  for (let i = 0; i < 3; i++) {
    const { res, ms } = await timed();
    expect(res.status).toBe(503);
    expect(ms).toBeLessThan(2_000); // the call's deadline (300 ms), not 10 s
  }
  // Open: answered without calling images (the circuit's answer carries Retry-After; a timeout's does not).
  const open = await sys.api.get(path, { token: user.accessToken });
  expect(open.status).toBe(503);
  expect(open.body).toMatchObject({
    error: { code: 'images_unavailable', message: expect.stringMatching(/try again/) },
  });
  expect(Number(open.headers.get('retry-after'))).toBeGreaterThan(0);
  const ready = await sys.api.get<{ checks: Record<string, string> }>('/readyz');
  expect(ready.status).toBe(503);
  expect(ready.body.checks.images).toMatch(/unreachable/);

  sys.imagesLine!.restore();
  await waitFor('predict answering again', async () =>
    (await sys.api.get(path, { token: user.accessToken })).status === 200 ? true : undefined,
  );
  expect((await sys.api.get('/readyz')).status).toBe(200);
});
