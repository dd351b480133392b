import { generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { createAccessTokenVerifier } from '@capcheck/shared';

let privateKey: KeyLike;
let publicKey: KeyLike;
beforeAll(async () => {
  ({ privateKey, publicKey } = await generateKeyPair('ES256'));
});

const t0 = new Date('2026-11-23T10:00:00Z');
const sign = (expiresAt: Date, role = 'user') =>
  new SignJWT({ role })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
    .setSubject('00000000-0000-4000-8000-000000000001')
    .setIssuer('capcheck')
    .setAudience('capcheck-api')
    .setIssuedAt(t0)
    .setExpirationTime(expiresAt)
    .sign(privateKey);

function verifierAt(clock: { now: Date }, keys = async () => publicKey, cacheSeconds = 60) {
  return createAccessTokenVerifier({
    issuer: 'capcheck',
    audience: 'capcheck-api',
    keys,
    cacheSeconds,
    now: () => clock.now,
  });
}

test('a remembered token is not trusted past its expiry', async () => {
  const clock = { now: t0 };
  const verifier = verifierAt(clock);
  const token = await sign(new Date(t0.getTime() + 30_000));
  await expect(verifier.verify(token)).resolves.toMatchObject({ role: 'user' });
  clock.now = new Date(t0.getTime() + 40_000); // past exp (+5 s tolerance), within the 60 s cache
  await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
});

test('a remembered token is checked again after cacheSeconds, so a removed key stops working', async () => {
  const clock = { now: t0 };
  let keyPresent = true;
  const verifier = verifierAt(clock, async () => {
    if (!keyPresent) throw new Error('no such key');
    return publicKey;
  });
  const token = await sign(new Date(t0.getTime() + 600_000));
  await verifier.verify(token);
  keyPresent = false; // the key is rotated out
  clock.now = new Date(t0.getTime() + 30_000);
  await expect(verifier.verify(token)).resolves.toBeDefined(); // still within the cache window
  clock.now = new Date(t0.getTime() + 61_000);
  await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
});

test('failures are never remembered', async () => {
  const clock = { now: t0 };
  const verifier = verifierAt(clock);
  const forged = (await sign(new Date(t0.getTime() + 600_000))).replace(/\.[^.]+$/, '.AAAA');
  await expect(verifier.verify(forged)).rejects.toBeDefined();
  await expect(verifier.verify(forged)).rejects.toBeDefined();
});
