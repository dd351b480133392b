import { signUp, startUsers, type UsersSystem } from '../../../test-support/services';
import { uniqueEmail } from '../../../test-support/http';

let sys: UsersSystem;
beforeAll(async () => {
  sys = await startUsers();
});
afterAll(() => sys.close());

interface CreatedKey {
  id: string;
  name: string;
  prefix: string;
  key: string;
  createdAt: string;
}

test('create, trade for a token, use it, revoke, and the old key fails at once', async () => {
  const { api } = sys;
  const user = await signUp(api, uniqueEmail());
  const created = await api.post<CreatedKey>('/users/me/api-keys', {
    token: user.accessToken,
    json: { name: 'bottling line 3' },
  });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    id: expect.any(String),
    name: 'bottling line 3',
    key: expect.stringMatching(/^cck_/),
  });
  expect(created.body.key.startsWith(created.body.prefix)).toBe(true);

  const listed = await api.get<{ items: Record<string, unknown>[] }>('/users/me/api-keys', { token: user.accessToken });
  expect(listed.body.items).toEqual([
    {
      id: created.body.id,
      name: 'bottling line 3',
      prefix: created.body.prefix,
      createdAt: created.body.createdAt,
      lastUsedAt: null,
    },
  ]);
  expect(JSON.stringify(listed.body)).not.toContain(created.body.key);

  const traded = await api.post<{ accessToken: string; tokenType: string; expiresIn: number }>('/auth/token', {
    headers: { 'x-api-key': created.body.key },
  });
  expect(traded.status).toBe(200);
  expect(traded.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900 });
  expect(traded.body).not.toHaveProperty('refreshToken');
  const me = await api.get('/users/me', { token: traded.body.accessToken });
  expect(me.body).toMatchObject({ id: user.id });

  const afterUse = await api.get<{ items: { lastUsedAt: string | null }[] }>('/users/me/api-keys', {
    token: user.accessToken,
  });
  expect(afterUse.body.items[0]?.lastUsedAt).toEqual(expect.any(String));

  expect((await api.delete(`/users/me/api-keys/${created.body.id}`, { token: user.accessToken })).status).toBe(204);
  const refused = await api.post('/auth/token', { headers: { 'x-api-key': created.body.key } });
  expect(refused.status).toBe(401);
  expect(refused.body).toMatchObject({ error: { code: 'invalid_api_key' } });
  expect((await api.get<{ items: unknown[] }>('/users/me/api-keys', { token: user.accessToken })).body.items).toEqual(
    [],
  );
});

test("another user's key is a 404 and stays usable", async () => {
  const owner = await signUp(sys.api, uniqueEmail('owner'));
  const intruder = await signUp(sys.api, uniqueEmail('intruder'));
  const created = await sys.api.post<CreatedKey>('/users/me/api-keys', {
    token: owner.accessToken,
    json: { name: 'k' },
  });
  const res = await sys.api.delete(`/users/me/api-keys/${created.body.id}`, { token: intruder.accessToken });
  expect(res.status).toBe(404);
  expect((await sys.api.post('/auth/token', { headers: { 'x-api-key': created.body.key } })).status).toBe(200);
});

test.each([
  ['a malformed id', '/users/me/api-keys/not-a-uuid'],
  ['an unknown id', '/users/me/api-keys/00000000-0000-4000-8000-000000000000'],
])('404 for %s', async (_name, path) => {
  const user = await signUp(sys.api, uniqueEmail());
  const res = await sys.api.delete(path, { token: user.accessToken });
  expect(res.status).toBe(404);
  expect(res.body).toMatchObject({ error: { code: 'not_found' } });
});

test.each([
  ['no name', {}],
  ['an empty name', { name: '  ' }],
  ['a name with markup', { name: '<script>' }],
  ['a name that is too long', { name: 'n'.repeat(65) }],
  ['an extra field', { name: 'ok', scope: 'admin' }],
])('400 for %s', async (_name, json) => {
  const user = await signUp(sys.api, uniqueEmail());
  expect((await sys.api.post('/users/me/api-keys', { token: user.accessToken, json })).status).toBe(400);
});

test('key routes need a token', async () => {
  expect((await sys.api.get('/users/me/api-keys')).status).toBe(401);
  expect((await sys.api.post('/users/me/api-keys', { json: { name: 'x' } })).status).toBe(401);
});

test('POST /auth/token without a key, or with a made-up one, is 401', async () => {
  expect((await sys.api.post('/auth/token')).status).toBe(401);
  expect((await sys.api.post('/auth/token', { headers: { 'x-api-key': 'cck_made-up' } })).status).toBe(401);
  expect((await sys.api.post('/auth/token', { headers: { 'x-api-key': 'x'.repeat(300) } })).status).toBe(401);
});

test('failed key exchanges from one address are throttled', async () => {
  const own = await startUsers({ API_KEY_FAILURES_PER_IP: '2' });
  try {
    for (let i = 0; i < 2; i++)
      expect((await own.api.post('/auth/token', { headers: { 'x-api-key': `cck_${i}` } })).status).toBe(401);
    const blocked = await own.api.post('/auth/token', { headers: { 'x-api-key': 'cck_2' } });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBeTruthy();
  } finally {
    await own.close();
  }
});

test('the number of active keys per user is bounded', async () => {
  const own = await startUsers({ MAX_API_KEYS_PER_USER: '2' });
  try {
    const user = await signUp(own.api, uniqueEmail());
    for (let i = 0; i < 2; i++) {
      expect(
        (await own.api.post('/users/me/api-keys', { token: user.accessToken, json: { name: `k${i}` } })).status,
      ).toBe(201);
    }
    const third = await own.api.post('/users/me/api-keys', { token: user.accessToken, json: { name: 'k3' } });
    expect(third.status).toBe(409);
  } finally {
    await own.close();
  }
});
