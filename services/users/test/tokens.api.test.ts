import { createHmac, randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import { createAccessTokenVerifier, localSigningKeys } from '@capcheck/shared';
import { generateSigningJwks } from '@capcheck/users';
import { signUp, startUsers, type UsersSystem } from '../../../test-support/services';
import { uniqueEmail } from '../../../test-support/http';

let sys: UsersSystem;
let systemKey: JWK;
let userId: string;

beforeAll(async () => {
  const jwks = await generateSigningJwks();
  systemKey = jwks.keys[0]!;
  sys = await startUsers({ JWT_SIGNING_KEYS: JSON.stringify(jwks) });
  userId = (await signUp(sys.api, uniqueEmail())).id;
});
afterAll(() => sys.close());

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
/** Valid-looking claims of an admin: what a forger would put in a token they cannot sign. */
const adminClaims = () => ({
  sub: userId,
  role: 'admin',
  iss: 'capcheck',
  aud: 'capcheck-api',
  iat: now(),
  exp: now() + 300,
});

async function token(
  key: JWK,
  overrides: {
    header?: Record<string, unknown>;
    claims?: Record<string, unknown>;
    exp?: number;
    sub?: string;
    iss?: string;
    aud?: string;
  } = {},
): Promise<string> {
  const header = { alg: 'ES256', typ: 'at+jwt', kid: key.kid, ...overrides.header };
  return new SignJWT({ role: 'user', ...overrides.claims })
    .setProtectedHeader(header as { alg: string })
    .setSubject(overrides.sub ?? userId)
    .setIssuer(overrides.iss ?? 'capcheck')
    .setAudience(overrides.aud ?? 'capcheck-api')
    .setIssuedAt()
    .setExpirationTime(overrides.exp ?? now() + 300)
    .sign(await importJWK(key, 'ES256'));
}

const me = (bearer: string) => sys.api.get('/users/me', { headers: { authorization: `Bearer ${bearer}` } });

test('a token we sign ourselves with the system key is accepted (the harness is sound)', async () => {
  expect((await me(await token(systemKey))).status).toBe(200);
});

describe('every forged or stale token gets 401 invalid_token', () => {
  test('alg: none', async () => {
    const unsigned = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ sub: userId, role: 'admin', iss: 'capcheck', aud: 'capcheck-api', iat: now(), exp: now() + 300 })}.`;
    const res = await me(unsigned);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'invalid_token' } });
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  test('HS256 with the public key as the HMAC secret (algorithm confusion)', async () => {
    const { d: _d, ...publicKey } = systemKey;
    const head = b64({ alg: 'HS256', typ: 'at+jwt', kid: systemKey.kid });
    const body = b64(adminClaims());
    const mac = createHmac('sha256', JSON.stringify(publicKey)).update(`${head}.${body}`).digest('base64url');
    expect((await me(`${head}.${body}.${mac}`)).status).toBe(401);
  });

  test('signed by another key, even one claiming our kid', async () => {
    const other = (await generateSigningJwks()).keys[0]!;
    expect((await me(await token(other))).status).toBe(401);
    expect((await me(await token({ ...other, kid: systemKey.kid }))).status).toBe(401);
  });

  test('expired', async () => {
    expect((await me(await token(systemKey, { exp: now() - 60 }))).status).toBe(401);
  });

  test('wrong audience, wrong issuer', async () => {
    const wrongAudience = await token(systemKey, { aud: 'someone-else' });
    expect((await me(wrongAudience)).status).toBe(401);
    const wrongIssuer = await token(systemKey, { iss: 'evil' });
    expect((await me(wrongIssuer)).status).toBe(401);
  });

  test('not typed as an access token (e.g. some other JWT of ours)', async () => {
    expect((await me(await token(systemKey, { header: { typ: 'JWT' } }))).status).toBe(401);
  });

  test('a role the system does not know', async () => {
    expect((await me(await token(systemKey, { claims: { role: 'root' } }))).status).toBe(401);
  });

  test('tampered payload', async () => {
    const [head, , sig] = (await token(systemKey)).split('.');
    const forged = b64(adminClaims());
    expect((await me(`${head}.${forged}.${sig}`)).status).toBe(401);
  });

  test.each([
    ['no header', {}],
    ['not Bearer', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['garbage', { authorization: 'Bearer not.a.jwt' }],
    ['empty Bearer', { authorization: 'Bearer ' }],
  ])('%s', async (_name, headers) => {
    const res = await sys.api.get('/users/me', { headers });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: expect.stringMatching(/missing_token|invalid_token/) } });
  });

  test('a valid token for a user that does not exist', async () => {
    const ghost = await token(systemKey, { sub: randomUUID() });
    expect((await me(ghost)).status).toBe(401);
  });
});

describe('key rotation', () => {
  test('after a new key is put first, tokens of the old key still verify and new ones carry the new kid', async () => {
    const old = await generateSigningJwks();
    const before = await startUsers({ JWT_SIGNING_KEYS: JSON.stringify(old) });
    const email = uniqueEmail();
    let oldToken: string;
    try {
      oldToken = (await signUp(before.api, email)).accessToken;
    } finally {
      await before.close();
    }
    const fresh = await generateSigningJwks();
    const rotatedKeys = { keys: [fresh.keys[0]!, old.keys[0]!] };
    const after = await startUsers({ JWT_SIGNING_KEYS: JSON.stringify(rotatedKeys) });
    try {
      // Same user in the new process: copy nothing, just register again and compare kids.
      const newToken = (await signUp(after.api, email)).accessToken;
      const kidOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).kid as string;
      expect(kidOf(newToken)).toBe(fresh.keys[0]!.kid);
      expect(kidOf(oldToken)).toBe(old.keys[0]!.kid);
      const jwks = await after.api.get<{ keys: { kid: string }[] }>('/.well-known/jwks.json');
      expect(jwks.body.keys.map((k) => k.kid)).toEqual([fresh.keys[0]!.kid, old.keys[0]!.kid]);
      // The old token's signature checks out against the rotated set. Its user is unknown in this process,
      // so every route refuses it (the account check); verify the signature alone, as every service does first.
      const signatureOnly = createAccessTokenVerifier({
        issuer: 'capcheck',
        audience: 'capcheck-api',
        keys: localSigningKeys(() => after.keyRing.publicJwks()),
      });
      await expect(signatureOnly.verify(oldToken)).resolves.toMatchObject({ role: 'user' });
      expect((await after.api.get('/users/me', { token: oldToken })).status).toBe(401);
    } finally {
      await after.close();
    }
  });
});
