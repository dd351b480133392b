import { signUp, startLocal, startStandaloneImages, type LocalSystem } from '../../../test-support/local';
import { client, uniqueEmail, type Started } from '../../../test-support/http';
import { waitFor } from '../../../test-support/poll';

/**
 * An admin who is demoted or disabled, or a user who is disabled, tries to go on with the access token
 * they already hold (valid for 15 more minutes): against users, and against a separately deployed service.
 */
let sys: LocalSystem;
const adminEmails = [uniqueEmail('admin-a'), uniqueEmail('admin-b'), uniqueEmail('admin-c')];
let a: Awaited<ReturnType<typeof signUp>>;
beforeAll(async () => {
  sys = await startLocal({ ADMIN_EMAILS: adminEmails.join(',') });
  a = await signUp(sys.api, adminEmails[0]!);
});
afterAll(() => sys.close());

const patchUser = (token: string, id: string, json: object) => sys.api.patch(`/admin/api/users/${id}`, { token, json });

test('a demoted admin loses admin powers at once, with the token that still says admin', async () => {
  const b = await signUp(sys.api, adminEmails[1]!);
  const bystander = await signUp(sys.api, uniqueEmail());
  expect((await patchUser(a.accessToken, b.id, { role: 'user' })).status).toBe(200);

  expect((await sys.api.get('/admin/api/users', { token: b.accessToken })).status).toBe(403);
  expect((await patchUser(b.accessToken, bystander.id, { role: 'admin' })).status).toBe(403);
  expect((await patchUser(b.accessToken, a.id, { disabled: true })).status).toBe(403);
  expect((await sys.api.get('/admin/api/prediction-logs', { token: b.accessToken })).status).toBe(403);
  expect((await sys.api.get('/users/me', { token: b.accessToken })).status).toBe(200); // still a user
  // The changes the demoted admin tried did not happen.
  const listed = await sys.api.get<{ items: { id: string; role: string; disabled: boolean }[] }>(
    '/admin/api/users?limit=100',
    { token: a.accessToken },
  );
  expect(listed.body.items.find((u) => u.id === bystander.id)).toMatchObject({ role: 'user' });
  expect(listed.body.items.find((u) => u.id === a.id)).toMatchObject({ disabled: false });
});

test('a disabled admin and a disabled user are refused on every route of the local process at once', async () => {
  const c = await signUp(sys.api, adminEmails[2]!);
  const user = await signUp(sys.api, uniqueEmail());
  for (const victim of [c, user])
    expect((await patchUser(a.accessToken, victim.id, { disabled: true })).status).toBe(200);

  expect((await sys.api.get('/admin/api/users', { token: c.accessToken })).status).toBe(401);
  for (const victim of [c, user]) {
    expect((await sys.api.get('/images', { token: victim.accessToken })).status).toBe(401);
    expect((await sys.api.get('/models', { token: victim.accessToken })).status).toBe(401);
  }
});

describe('a separately deployed service (images, verifying through users)', () => {
  let images: Started;
  beforeAll(async () => {
    images = await startStandaloneImages(sys, sys.baseUrl, { ACCOUNT_CHECK_CACHE_MS: '300' });
  });
  afterAll(() => images.close());

  test("a disabled user's token stops working there within the account-check interval", async () => {
    const user = await signUp(sys.api, uniqueEmail());
    const api = client(images.baseUrl);
    expect((await api.get('/images', { token: user.accessToken })).status).toBe(200);

    const disabledAt = Date.now();
    await patchUser(a.accessToken, user.id, { disabled: true });
    await waitFor('the token refused by images', async () =>
      (await api.get('/images', { token: user.accessToken })).status === 401 ? true : undefined,
    );
    expect(Date.now() - disabledAt).toBeLessThan(5_000);
  });
});
