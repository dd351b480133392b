import { signUp, startLocal } from '../../test-support/local';
import { uniqueEmail, uploadFile } from '../../test-support/http';
import { samplePicture } from '../../test-support/models';

test('/admin answers 404 to addresses outside ADMIN_ALLOWLIST, even for an admin', async () => {
  const email = uniqueEmail('admin');
  const sys = await startLocal({ ADMIN_ALLOWLIST: '10.0.0.0/8', ADMIN_EMAILS: email });
  try {
    const admin = await signUp(sys.api, email);
    const res = await sys.api.get('/admin/api/users', { token: admin.accessToken });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'route_not_found', message: 'no such route' } });
  } finally {
    await sys.close();
  }
});

test('a forged X-Forwarded-For does not get past the allow-list when no proxy is trusted', async () => {
  const email = uniqueEmail('admin');
  const sys = await startLocal({ ADMIN_ALLOWLIST: '10.0.0.0/8', ADMIN_EMAILS: email });
  try {
    const admin = await signUp(sys.api, email);
    const res = await sys.api.get('/admin/api/users', {
      token: admin.accessToken,
      headers: { 'x-forwarded-for': '10.1.1.1' },
    });
    expect(res.status).toBe(404);
  } finally {
    await sys.close();
  }
});

test('behind a trusted proxy, the forwarded client address is what the allow-list sees', async () => {
  const email = uniqueEmail('admin');
  const sys = await startLocal({ ADMIN_ALLOWLIST: '10.0.0.0/8', ADMIN_EMAILS: email, TRUST_PROXY: 'loopback' });
  try {
    const admin = await signUp(sys.api, email);
    const inside = await sys.api.get('/admin/api/users', {
      token: admin.accessToken,
      headers: { 'x-forwarded-for': '10.1.1.1' },
    });
    expect(inside.status).toBe(200);
    const outside = await sys.api.get('/admin/api/users', {
      token: admin.accessToken,
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expect(outside.status).toBe(404);
  } finally {
    await sys.close();
  }
});

test('health, readiness and metrics', async () => {
  const sys = await startLocal();
  try {
    expect((await sys.api.get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await sys.api.get('/readyz')).body).toEqual({
      status: 'ready',
      checks: { metadata: 'ok', 'rate-limits': 'ok', blobs: 'ok', model: 'ok', disk: 'ok' },
    });
    await sys.api.post('/auth/register', { json: { email: uniqueEmail(), password: 'long enough password' } });
    const metrics = await fetch(`${sys.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{service="users",method="POST",route="\/auth\/register",status_code="201"\} 1/,
    );
    expect(metrics).toMatch(/process_cpu_user_seconds_total/);
  } finally {
    await sys.close();
  }
});

test('readiness fails (503) when the metadata store is gone, and says which', async () => {
  const sys = await startLocal();
  try {
    await sys.stores.images.close();
    const res = await sys.api.get<{ status: string; checks: Record<string, string> }>('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.status).toBe('not_ready');
    expect(res.body.checks.metadata).not.toBe('ok');
    expect(res.body.checks['rate-limits']).toBe('ok');
  } finally {
    await sys.close();
  }
});

test('every response carries a request id; a sane incoming one is kept, a hostile one replaced', async () => {
  const sys = await startLocal();
  try {
    const own = await fetch(`${sys.baseUrl}/healthz`, { headers: { 'x-request-id': 'trace-123' } });
    expect(own.headers.get('x-request-id')).toBe('trace-123');
    const hostile = await fetch(`${sys.baseUrl}/healthz`, { headers: { 'x-request-id': 'a'.repeat(200) } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  } finally {
    await sys.close();
  }
});

test('unknown routes and methods are JSON 404s', async () => {
  const sys = await startLocal();
  try {
    for (const res of [await sys.api.get('/nope'), await sys.api.delete('/auth/login')]) {
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'route_not_found', message: 'no such route' } });
    }
  } finally {
    await sys.close();
  }
});

test('the whole path: an API key traded for a token predicts, and the request log names the key', async () => {
  const adminEmail = uniqueEmail('admin');
  const sys = await startLocal({ ADMIN_EMAILS: adminEmail });
  try {
    const admin = await signUp(sys.api, adminEmail);
    const user = await signUp(sys.api, uniqueEmail());
    const key = await sys.api.post<{ id: string; key: string }>('/users/me/api-keys', {
      token: user.accessToken,
      json: { name: 'line' },
    });
    const traded = await sys.api.post<{ accessToken: string }>('/auth/token', {
      headers: { 'x-api-key': key.body.key },
    });
    const uploaded = await uploadFile(sys.baseUrl, traded.body.accessToken, { bytes: samplePicture('open-1.jpg') });
    expect(uploaded.status).toBe(201);
    const predicted = await sys.api.get(`/predict/${String(uploaded.body.id)}`, { token: traded.body.accessToken });
    expect(predicted.body).toMatchObject({ label: 'open' });
    const logs = await sys.api.get<{ items: { imageId: string; apiKeyId: string | null; userId: string }[] }>(
      '/admin/api/prediction-logs?label=open',
      { token: admin.accessToken },
    );
    expect(logs.body.items.find((l) => l.imageId === uploaded.body.id)).toMatchObject({
      userId: user.id,
      apiKeyId: key.body.id,
    });
  } finally {
    await sys.close();
  }
});
