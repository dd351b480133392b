import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { createAccessTokenVerifier, remoteSigningKeys } from '@capcheck/shared';
import { waitFor } from '../../test-support/poll';

/**
 * A stand-in for the users service's JWKS endpoint that counts what it is asked, serves the keys it
 * is told to, and can hang (accept and never answer), as users did in the outage that cost each
 * token naming an unknown `kid` 5 s.
 */
function jwksServer() {
  let keys: JWK[] = [];
  let hung = false;
  let fetches = 0;
  const held: ServerResponse[] = [];
  const server: Server = createServer((_req, res) => {
    fetches++;
    if (hung) return void held.push(res);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys }));
  });
  return {
    listen: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`)),
      ),
    serve: (next: JWK[]) => (keys = next),
    hang: (on: boolean) => (hung = on),
    fetches: () => fetches,
    close: () =>
      new Promise<void>((resolve) => {
        held.forEach((res) => res.destroy());
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function keyPair(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

const tokenFor = (kid: string, privateKey: KeyLike, subject = crypto.randomUUID()) =>
  new SignJWT({ role: 'user' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
    .setSubject(subject)
    .setIssuer('capcheck')
    .setAudience('capcheck-api')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(privateKey);

const cooldownMs = 3_000;
const timeoutMs = 1_500;
let jwks: ReturnType<typeof jwksServer>;
let url: string;
beforeEach(async () => {
  jwks = jwksServer();
  url = await jwks.listen();
});
afterEach(() => jwks.close());

const verifierOf = () =>
  createAccessTokenVerifier({
    issuer: 'capcheck',
    audience: 'capcheck-api',
    keys: remoteSigningKeys({ url, timeoutMs, cooldownMs }),
  });

test('tokens naming an unknown kid fetch the key set at most once per cooldown, however many arrive', async () => {
  const known = await keyPair('k1');
  const stranger = await keyPair('k-unknown');
  // Different tokens each time (none remembered), naming a kid the set lacks, signed before the clock of
  // the cooldown starts: signing 61 of them on a busy machine can take longer than the cooldown itself.
  const thirtyStrangerTokens = () =>
    Promise.all(Array.from({ length: 30 }, () => tokenFor('k-unknown', stranger.privateKey)));
  const [firstBurst, secondBurst, probe] = await Promise.all([
    thirtyStrangerTokens(),
    thirtyStrangerTokens(),
    tokenFor('k-unknown', stranger.privateKey),
  ]);
  jwks.serve([known.jwk]);
  const verifier = verifierOf();
  await expect(verifier.verify(await tokenFor('k1', known.privateKey))).resolves.toMatchObject({ role: 'user' });
  const firstFetch = Date.now();
  expect(jwks.fetches()).toBe(1);

  // At once and one after another.
  const burst = async (tokens: string[]) => {
    const results = await Promise.allSettled(tokens.slice(0, 15).map((t) => verifier.verify(t)));
    for (const t of tokens.slice(15)) results.push(...(await Promise.allSettled([verifier.verify(t)])));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
  };
  await burst(firstBurst);
  expect(jwks.fetches()).toBe(1); // within the cooldown of the first fetch: none

  // Once the cooldown is over, the next such token fetches, once; a burst right after fetches nothing more.
  await waitFor(
    'a fetch after the cooldown',
    async () => {
      await verifier.verify(probe).catch(() => undefined);
      return jwks.fetches() > 1 ? true : undefined;
    },
    { timeoutMs: cooldownMs * 3 },
  );
  expect(Date.now() - firstFetch).toBeGreaterThanOrEqual(cooldownMs - 50);
  await burst(secondBurst);
  expect(jwks.fetches()).toBe(2);
});

test('a key added since (a rotation) is picked up by the first refetch the cooldown allows', async () => {
  const old = await keyPair('k1');
  const rotated = await keyPair('k2');
  jwks.serve([old.jwk]);
  const verifier = verifierOf();
  await verifier.verify(await tokenFor('k1', old.privateKey));
  const firstFetch = Date.now();
  jwks.serve([rotated.jwk, old.jwk]);
  const fresh = await tokenFor('k2', rotated.privateKey);
  await waitFor(
    'the rotated key accepted',
    async () => ((await verifier.verify(fresh).catch(() => null)) ? true : undefined),
    { timeoutMs: cooldownMs * 3 },
  );
  expect(Date.now() - firstFetch).toBeGreaterThanOrEqual(cooldownMs - 50);
  expect(jwks.fetches()).toBe(2);
  await expect(verifier.verify(await tokenFor('k1', old.privateKey))).resolves.toMatchObject({ role: 'user' });
});

test('with users hung, the one unknown-kid token that refetches waits one deadline; the next ones fail at once', async () => {
  const known = await keyPair('k1');
  const stranger = await keyPair('k-unknown');
  jwks.serve([known.jwk]);
  const verifier = verifierOf();
  await verifier.verify(await tokenFor('k1', known.privateKey));
  jwks.hang(true);

  const timed = async () => {
    const token = await tokenFor('k-unknown', stranger.privateKey);
    const started = Date.now();
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
    return Date.now() - started;
  };
  // Within the cooldown of the first fetch no token waits; the first one after it asks users and waits its deadline.
  const refetchMs = await waitFor(
    'the refetch after the cooldown',
    async () => {
      const ms = await timed();
      return jwks.fetches() === 2 ? ms : undefined;
    },
    { timeoutMs: cooldownMs * 3 },
  );
  expect(refetchMs).toBeGreaterThanOrEqual(timeoutMs - 100);
  expect(refetchMs).toBeLessThan(timeoutMs + 1_000);
  for (let i = 0; i < 5; i++) expect(await timed()).toBeLessThan(timeoutMs / 3);
  // The known key never waits for users.
  await expect(verifier.verify(await tokenFor('k1', known.privateKey))).resolves.toBeDefined();
  expect(jwks.fetches()).toBe(2);
});
