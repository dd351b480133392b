import { password, signUp, startUsers, type UsersSystem } from '../../../test-support/services';
import { uniqueEmail } from '../../../test-support/http';

let sys: UsersSystem;
const adminEmail = uniqueEmail('admin');
beforeAll(async () => {
  sys = await startUsers({ ADMIN_EMAILS: adminEmail.toUpperCase() });
});
afterAll(() => sys.close());

test('an email in ADMIN_EMAILS registers as admin; others as user', async () => {
  const admin = await signUp(sys.api, adminEmail);
  const user = await signUp(sys.api, uniqueEmail());
  expect(admin.role).toBe('admin');
  expect(user.role).toBe('user');
});

test('a non-admin gets 403 on admin routes; no token gets 401', async () => {
  const user = await signUp(sys.api, uniqueEmail());
  expect((await sys.api.get('/admin/api/users', { token: user.accessToken })).status).toBe(403);
  expect(
    (await sys.api.patch(`/admin/api/users/${user.id}`, { token: user.accessToken, json: { role: 'admin' } })).status,
  ).toBe(403);
  expect((await sys.api.get('/admin/api/users')).status).toBe(401);
});

describe('as admin', () => {
  let adminToken: string;
  beforeAll(async () => {
    const res = await sys.api.post<{ accessToken: string }>('/auth/login', { json: { email: adminEmail, password } });
    adminToken = res.body.accessToken;
  });

  test('lists users with cursor pagination, never their hashes', async () => {
    for (let i = 0; i < 3; i++) await signUp(sys.api, uniqueEmail('listed'));
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const page = await sys.api.get<{ items: { id: string }[]; nextCursor: string | null }>(
        `/admin/api/users${query}`,
        { token: adminToken },
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      expect(JSON.stringify(page.body)).not.toMatch(/passwordHash|\$2[aby]\$/);
      page.body.items.forEach((u) => seen.add(u.id));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect(seen.size).toBeGreaterThanOrEqual(5);
    expect(pages).toBeGreaterThan(1);
  });

  test('400 for a limit out of range', async () => {
    expect((await sys.api.get('/admin/api/users?limit=0', { token: adminToken })).status).toBe(400);
    expect((await sys.api.get('/admin/api/users?limit=1000', { token: adminToken })).status).toBe(400);
  });

  test('disabling a user ends their sessions and their logins', async () => {
    const email = uniqueEmail('disabled');
    const victim = await signUp(sys.api, email);
    const patched = await sys.api.patch(`/admin/api/users/${victim.id}`, {
      token: adminToken,
      json: { disabled: true },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: victim.id, disabled: true });
    expect((await sys.api.post('/auth/login', { json: { email, password } })).status).toBe(403);
    expect((await sys.api.post('/auth/refresh', { json: { refreshToken: victim.refreshToken } })).status).toBe(401);
    expect((await sys.api.get('/users/me', { token: victim.accessToken })).status).toBe(401);

    await sys.api.patch(`/admin/api/users/${victim.id}`, { token: adminToken, json: { disabled: false } });
    expect((await sys.api.post('/auth/login', { json: { email, password } })).status).toBe(200);
  });

  test('promoting a user to admin shows in their next token', async () => {
    const email = uniqueEmail('promoted');
    const promoted = await signUp(sys.api, email);
    await sys.api.patch(`/admin/api/users/${promoted.id}`, { token: adminToken, json: { role: 'admin' } });
    const login = await sys.api.post<{ accessToken: string }>('/auth/login', { json: { email, password } });
    expect((await sys.api.get('/admin/api/users', { token: login.body.accessToken })).status).toBe(200);
  });

  test.each([
    ['an unknown role', { role: 'root' }],
    ['nothing to change', {}],
    ['a string for disabled', { disabled: 'yes' }],
    ['an extra field', { role: 'user', email: 'x@y.z' }],
  ])('400 for %s', async (_name, json) => {
    const user = await signUp(sys.api, uniqueEmail());
    expect((await sys.api.patch(`/admin/api/users/${user.id}`, { token: adminToken, json })).status).toBe(400);
  });

  test('404 for unknown and malformed ids; 409 for changing oneself', async () => {
    expect(
      (
        await sys.api.patch('/admin/api/users/00000000-0000-4000-8000-000000000000', {
          token: adminToken,
          json: { disabled: true },
        })
      ).status,
    ).toBe(404);
    expect((await sys.api.patch('/admin/api/users/nope', { token: adminToken, json: { disabled: true } })).status).toBe(
      404,
    );
    const self = await sys.api.get<{ id: string }>('/users/me', { token: adminToken });
    expect(
      (await sys.api.patch(`/admin/api/users/${self.body.id}`, { token: adminToken, json: { role: 'user' } })).status,
    ).toBe(409);
  });
});
