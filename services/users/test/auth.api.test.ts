import { password, signUp, startUsers, type UsersSystem } from '../../../test-support/services';
import { uniqueEmail } from '../../../test-support/http';

let sys: UsersSystem;
beforeAll(async () => {
  sys = await startUsers();
});
afterAll(() => sys.close());

describe('POST /auth/register', () => {
  test('creates a user with a normalised email and never returns the hash', async () => {
    const email = uniqueEmail('Reg');
    const res = await sys.api.post('/auth/register', { json: { email: `  ${email.toUpperCase()} `, password } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      email: email.toLowerCase(),
      role: 'user',
      createdAt: expect.any(String),
    });
    expect(JSON.stringify(res.body)).not.toMatch(/hash|password/i);
  });

  test('409 when the email is taken, whatever its case', async () => {
    const email = uniqueEmail();
    expect((await sys.api.post('/auth/register', { json: { email, password } })).status).toBe(201);
    const again = await sys.api.post('/auth/register', { json: { email: email.toUpperCase(), password } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: { code: 'email_taken', message: expect.any(String) } });
  });

  test.each([
    ['malformed JSON', { rawBody: '{"email": "a@b.c",' }, 'invalid_json'],
    ['an empty body', { rawBody: '' }, 'invalid_request'],
    ['a JSON array', { json: [] }, 'invalid_request'],
    ['a missing password', { json: { email: 'x@example.test' } }, 'invalid_request'],
    ['an extra field', { json: { email: 'x@example.test', password, role: 'admin' } }, 'invalid_request'],
    ['a number as email', { json: { email: 42, password } }, 'invalid_request'],
    ['an operator object as email', { json: { email: { $gt: '' }, password } }, 'invalid_request'],
    [
      'an operator object as password',
      { json: { email: 'x@example.test', password: { $ne: null } } },
      'invalid_request',
    ],
    ['not an email', { json: { email: 'not-an-email', password } }, 'invalid_request'],
    ['a short password', { json: { email: 'x@example.test', password: 'short' } }, 'invalid_request'],
    ['a 73-byte password', { json: { email: 'x@example.test', password: 'a'.repeat(73) } }, 'invalid_request'],
    // 25 characters but 75 bytes: bcrypt would silently drop the tail.
    [
      'a password of 25 three-byte characters',
      { json: { email: 'x@example.test', password: '€'.repeat(25) } },
      'invalid_request',
    ],
  ])('400 for %s', async (_name, body, code) => {
    const res = await sys.api.post('/auth/register', body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code, message: expect.any(String) } });
  });

  test('a 72-byte password is accepted and works for login', async () => {
    const email = uniqueEmail();
    const longest = 'ü'.repeat(36); // 72 bytes
    expect((await sys.api.post('/auth/register', { json: { email, password: longest } })).status).toBe(201);
    expect((await sys.api.post('/auth/login', { json: { email, password: longest } })).status).toBe(200);
    expect((await sys.api.post('/auth/login', { json: { email, password: 'ü'.repeat(35) } })).status).toBe(401);
  });

  test('413 for a body over the limit, as JSON', async () => {
    const res = await sys.api.post('/auth/register', {
      json: { email: 'x@example.test', password: 'p'.repeat(20_000) },
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: 'body_too_large' } });
  });
});

describe('POST /auth/login', () => {
  test('returns a Bearer access token and a refresh token', async () => {
    const email = uniqueEmail();
    await sys.api.post('/auth/register', { json: { email, password } });
    const res = await sys.api.post('/auth/login', { json: { email, password } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      accessToken: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 900,
      refreshToken: expect.any(String),
    });
    const me = await sys.api.get('/users/me', { token: res.body.accessToken as string });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email, role: 'user' });
  });

  test('an unknown email and a wrong password get the same answer', async () => {
    const email = uniqueEmail();
    await sys.api.post('/auth/register', { json: { email, password } });
    const wrongPassword = await sys.api.post('/auth/login', { json: { email, password: 'not the password' } });
    const unknownEmail = await sys.api.post('/auth/login', { json: { email: uniqueEmail('ghost'), password } });
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    expect(unknownEmail.body).toEqual(wrongPassword.body);
  });

  test('a password over 72 bytes is refused exactly as registration refuses it, even when its first 72 bytes match', async () => {
    const email = uniqueEmail();
    const longest = 'ü'.repeat(36); // 72 bytes
    expect((await sys.api.post('/auth/register', { json: { email, password: longest } })).status).toBe(201);
    const atLogin = await sys.api.post('/auth/login', { json: { email, password: `${longest}anything` } });
    const atRegistration = await sys.api.post('/auth/register', {
      json: { email: uniqueEmail(), password: `${longest}anything` },
    });
    expect(atLogin.status).toBe(400);
    expect(atLogin.body).toEqual(atRegistration.body);
    expect(atLogin.body).toMatchObject({ error: { code: 'invalid_request', details: [{ path: 'password' }] } });
  });

  test('an operator object never reaches the store', async () => {
    const res = await sys.api.post('/auth/login', { json: { email: { $gt: '' }, password: { $gt: '' } } });
    expect(res.status).toBe(400);
  });
});

describe('throttling', () => {
  test('after 5 attempts on one account: 429 with Retry-After, even with the right password', async () => {
    const { api } = sys;
    const email = uniqueEmail();
    await api.post('/auth/register', { json: { email, password } });
    for (let i = 0; i < 5; i++) {
      expect((await api.post('/auth/login', { json: { email, password: `wrong-${i}-password` } })).status).toBe(401);
    }
    const blocked = await api.post('/auth/login', { json: { email, password } });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(blocked.body).toMatchObject({ error: { code: 'too_many_attempts' } });
  });

  test('a successful login clears the account budget', async () => {
    const email = uniqueEmail();
    await sys.api.post('/auth/register', { json: { email, password } });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) await sys.api.post('/auth/login', { json: { email, password: 'wrong password!' } });
      expect((await sys.api.post('/auth/login', { json: { email, password } })).status).toBe(200);
    }
  });

  test('per IP: many accounts from one address are throttled too', async () => {
    const own = await startUsers({ LOGIN_ATTEMPTS_PER_IP: '3' });
    try {
      for (let i = 0; i < 3; i++) {
        expect((await own.api.post('/auth/login', { json: { email: uniqueEmail(), password } })).status).toBe(401);
      }
      const blocked = await own.api.post('/auth/login', { json: { email: uniqueEmail(), password } });
      expect(blocked.status).toBe(429);
      expect(blocked.headers.get('retry-after')).toBeTruthy();
    } finally {
      await own.close();
    }
  });

  test('registrations per IP are bounded', async () => {
    const own = await startUsers({ REGISTRATIONS_PER_IP_PER_HOUR: '2' });
    try {
      for (let i = 0; i < 2; i++) {
        expect((await own.api.post('/auth/register', { json: { email: uniqueEmail(), password } })).status).toBe(201);
      }
      expect((await own.api.post('/auth/register', { json: { email: uniqueEmail(), password } })).status).toBe(429);
    } finally {
      await own.close();
    }
  });
});

describe('refresh tokens', () => {
  test('rotate on use: the new pair works', async () => {
    const user = await signUp(sys.api, uniqueEmail());
    const res = await sys.api.post('/auth/refresh', { json: { refreshToken: user.refreshToken } });
    expect(res.status).toBe(200);
    expect(res.body.refreshToken).not.toBe(user.refreshToken);
    expect((await sys.api.get('/users/me', { token: res.body.accessToken as string })).status).toBe(200);
  });

  test('reuse of a rotated token revokes the whole family', async () => {
    const user = await signUp(sys.api, uniqueEmail());
    const rotated = await sys.api.post<{ refreshToken: string }>('/auth/refresh', {
      json: { refreshToken: user.refreshToken },
    });
    const reuse = await sys.api.post('/auth/refresh', { json: { refreshToken: user.refreshToken } });
    expect(reuse.status).toBe(401);
    expect(reuse.body).toMatchObject({ error: { code: 'refresh_token_reused' } });
    // The thief's (or the victim's) newer token is dead too.
    expect((await sys.api.post('/auth/refresh', { json: { refreshToken: rotated.body.refreshToken } })).status).toBe(
      401,
    );
  });

  test('two concurrent refreshes with one token: at most one wins', async () => {
    const user = await signUp(sys.api, uniqueEmail());
    const results = await Promise.all(
      [1, 2].map(() => sys.api.post('/auth/refresh', { json: { refreshToken: user.refreshToken } })),
    );
    expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
    expect(results.some((r) => r.status === 401)).toBe(true);
  });

  test('a made-up token, a wrong type and an extra field are refused', async () => {
    expect((await sys.api.post('/auth/refresh', { json: { refreshToken: 'nope' } })).status).toBe(401);
    expect((await sys.api.post('/auth/refresh', { json: { refreshToken: 5 } })).status).toBe(400);
    expect((await sys.api.post('/auth/refresh', { json: { refreshToken: 'x', extra: 1 } })).status).toBe(400);
  });

  test('logout revokes the session; a second logout is harmless', async () => {
    const user = await signUp(sys.api, uniqueEmail());
    expect((await sys.api.post('/auth/logout', { json: { refreshToken: user.refreshToken } })).status).toBe(204);
    expect((await sys.api.post('/auth/refresh', { json: { refreshToken: user.refreshToken } })).status).toBe(401);
    expect((await sys.api.post('/auth/logout', { json: { refreshToken: user.refreshToken } })).status).toBe(204);
  });

  test('logging out one session leaves the others alone', async () => {
    const email = uniqueEmail();
    const first = await signUp(sys.api, email);
    const second = await sys.api.post<{ refreshToken: string }>('/auth/login', { json: { email, password } });
    await sys.api.post('/auth/logout', { json: { refreshToken: first.refreshToken } });
    expect((await sys.api.post('/auth/refresh', { json: { refreshToken: second.body.refreshToken } })).status).toBe(
      200,
    );
  });
});

describe('GET /.well-known/jwks.json', () => {
  test('publishes public keys only, with kid and alg', async () => {
    const res = await sys.api.get<{ keys: Record<string, string>[] }>('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body.keys.length).toBeGreaterThan(0);
    for (const key of res.body.keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
      expect(key).not.toHaveProperty('d');
    }
  });
});
