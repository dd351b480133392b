import { randomUUID } from 'node:crypto';
import {
  DuplicateKeyError,
  newId,
  type ApiKeyId,
  type Email,
  type RefreshTokenId,
  type TokenFamilyId,
  type UserId,
} from '@capcheck/shared';
import type { ApiKeyRecord, RefreshTokenRecord, UserRecord, UsersStore } from '@capcheck/users';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
const user = (overrides: Partial<UserRecord> = {}): UserRecord => ({
  id: newId<UserId>(),
  email: `${randomUUID()}@example.test` as Email,
  passwordHash: '$2b$04$hash',
  role: 'user',
  disabled: false,
  createdAt: at(0),
  updatedAt: at(0),
  ...overrides,
});
const refreshToken = (
  userId: UserId,
  familyId: TokenFamilyId,
  overrides: Partial<RefreshTokenRecord> = {},
): RefreshTokenRecord => ({
  id: newId<RefreshTokenId>(),
  userId,
  familyId,
  tokenHash: randomUUID(),
  createdAt: at(0),
  expiresAt: at(3_600_000),
  usedAt: null,
  revokedAt: null,
  ...overrides,
});
const apiKey = (userId: UserId, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  id: newId<ApiKeyId>(),
  userId,
  name: 'key',
  prefix: 'cck_abcd',
  keyHash: randomUUID(),
  createdAt: at(0),
  lastUsedAt: null,
  revokedAt: null,
  ...overrides,
});

/** What every adapter of the users store must do. Each test makes its own records; the store may be shared. */
export function usersStoreContract(open: () => Promise<UsersStore>): void {
  let store: UsersStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(() => store?.close());

  test('ping answers', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  describe('users', () => {
    test('create then find by id and by email, fields intact', async () => {
      const u = user({ role: 'admin', createdAt: at(5), updatedAt: at(6) });
      await store.users.create(u);
      expect(await store.users.findById(u.id)).toEqual(u);
      expect(await store.users.findByEmail(u.email)).toEqual(u);
    });

    test('a taken email rejects with DuplicateKeyError and keeps the first', async () => {
      const first = user();
      await store.users.create(first);
      await expect(store.users.create(user({ email: first.email }))).rejects.toBeInstanceOf(DuplicateKeyError);
      expect((await store.users.findByEmail(first.email))?.id).toBe(first.id);
    });

    test('unknown ids and emails are null', async () => {
      expect(await store.users.findById(newId<UserId>())).toBeNull();
      expect(await store.users.findByEmail('nobody@example.test' as Email)).toBeNull();
    });

    test('update changes only the given fields', async () => {
      const u = user();
      await store.users.create(u);
      const updated = await store.users.update(u.id, { disabled: true }, at(99));
      expect(updated).toEqual({ ...u, disabled: true, updatedAt: at(99) });
      const promoted = await store.users.update(u.id, { role: 'admin' }, at(100));
      expect(promoted).toMatchObject({ role: 'admin', disabled: true });
      expect(await store.users.update(newId<UserId>(), { role: 'admin' }, at(1))).toBeNull();
    });

    test('list pages through every user exactly once, oldest first', async () => {
      // Far-future timestamps so these come after anything other tests made.
      const base = Date.UTC(2100, 0, 1);
      const mine = [0, 1, 1, 2, 3].map((offset) =>
        user({ createdAt: new Date(base + offset), updatedAt: new Date(base) }),
      );
      for (const u of mine) await store.users.create(u);
      const seen: UserRecord[] = [];
      let cursor: string | undefined;
      for (let guard = 0; guard < 10_000; guard++) {
        const page = await store.users.list({ limit: 2, cursor });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      const ids = seen.map((u) => u.id);
      expect(new Set(ids).size).toBe(ids.length);
      const tail = seen.filter((u) => mine.some((m) => m.id === u.id));
      expect(tail.map((u) => u.id)).toEqual(
        [...mine]
          .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id))
          .map((u) => u.id),
      );
    });

    test('an unreadable cursor starts from the beginning', async () => {
      const page = await store.users.list({ limit: 1, cursor: 'garbage!!' });
      expect(page.items.length).toBe(1);
    });
  });

  describe('refresh tokens', () => {
    test('create and find by hash', async () => {
      const t = refreshToken(newId<UserId>(), newId<TokenFamilyId>());
      await store.refreshTokens.create(t);
      expect(await store.refreshTokens.findByHash(t.tokenHash)).toEqual(t);
      expect(await store.refreshTokens.findByHash('unknown')).toBeNull();
    });

    test('markUsed succeeds once, even when raced', async () => {
      const t = refreshToken(newId<UserId>(), newId<TokenFamilyId>());
      await store.refreshTokens.create(t);
      const results = await Promise.all([1, 2, 3].map(() => store.refreshTokens.markUsed(t.id, at(10))));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await store.refreshTokens.findByHash(t.tokenHash))?.usedAt).toEqual(at(10));
    });

    test('revokeFamily revokes that family only, and a revoked token cannot be marked used', async () => {
      const userId = newId<UserId>();
      const family = newId<TokenFamilyId>();
      const a = refreshToken(userId, family);
      const b = refreshToken(userId, family);
      const other = refreshToken(userId, newId<TokenFamilyId>());
      for (const t of [a, b, other]) await store.refreshTokens.create(t);
      await store.refreshTokens.revokeFamily(family, at(20));
      expect((await store.refreshTokens.findByHash(a.tokenHash))?.revokedAt).toEqual(at(20));
      expect((await store.refreshTokens.findByHash(b.tokenHash))?.revokedAt).toEqual(at(20));
      expect((await store.refreshTokens.findByHash(other.tokenHash))?.revokedAt).toBeNull();
      expect(await store.refreshTokens.markUsed(a.id, at(21))).toBe(false);
    });

    test('revokeAllForUser revokes every family of that user only', async () => {
      const userId = newId<UserId>();
      const mine = [refreshToken(userId, newId<TokenFamilyId>()), refreshToken(userId, newId<TokenFamilyId>())];
      const theirs = refreshToken(newId<UserId>(), newId<TokenFamilyId>());
      for (const t of [...mine, theirs]) await store.refreshTokens.create(t);
      await store.refreshTokens.revokeAllForUser(userId, at(30));
      for (const t of mine) expect((await store.refreshTokens.findByHash(t.tokenHash))?.revokedAt).toEqual(at(30));
      expect((await store.refreshTokens.findByHash(theirs.tokenHash))?.revokedAt).toBeNull();
    });
  });

  describe('API keys', () => {
    test('create, find by hash, list active newest first', async () => {
      const userId = newId<UserId>();
      const older = apiKey(userId, { createdAt: at(1) });
      const newer = apiKey(userId, { createdAt: at(2), name: 'newer' });
      await store.apiKeys.create(older);
      await store.apiKeys.create(newer);
      await store.apiKeys.create(apiKey(newId<UserId>()));
      expect(await store.apiKeys.findByHash(older.keyHash)).toEqual(older);
      expect((await store.apiKeys.listActiveByUser(userId)).map((k) => k.id)).toEqual([newer.id, older.id]);
    });

    test('revoke only by the owner, once; revoked keys leave the list but stay findable', async () => {
      const owner = newId<UserId>();
      const k = apiKey(owner);
      await store.apiKeys.create(k);
      expect(await store.apiKeys.revoke(k.id, newId<UserId>(), at(5))).toBe(false);
      expect(await store.apiKeys.revoke(k.id, owner, at(5))).toBe(true);
      expect(await store.apiKeys.revoke(k.id, owner, at(6))).toBe(false);
      expect(await store.apiKeys.listActiveByUser(owner)).toEqual([]);
      expect((await store.apiKeys.findByHash(k.keyHash))?.revokedAt).toEqual(at(5));
    });

    test('touch records the last use', async () => {
      const k = apiKey(newId<UserId>());
      await store.apiKeys.create(k);
      await store.apiKeys.touch(k.id, at(7));
      expect((await store.apiKeys.findByHash(k.keyHash))?.lastUsedAt).toEqual(at(7));
    });
  });
}
