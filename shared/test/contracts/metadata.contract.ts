import {
  DuplicateKeyError,
  newId,
  type ApiKeyId,
  type ApiKeyRecord,
  type Email,
  type ImageId,
  type ImageRecord,
  type MetadataStore,
  type PredictionLogRecord,
  type PredictionRecord,
  type RefreshTokenId,
  type RefreshTokenRecord,
  type TokenFamilyId,
  type UserId,
  type UserRecord,
} from '@capcheck/shared';
import { randomUUID } from 'node:crypto';

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

const image = (ownerId: UserId, overrides: Partial<ImageRecord> = {}): ImageRecord => {
  const sha256 = randomUUID().replace(/-/g, '').repeat(2);
  return {
    id: newId<ImageId>(),
    ownerId,
    filename: 'bottle.jpg',
    format: 'jpeg',
    width: 640,
    height: 480,
    sizeBytes: 12345,
    sha256,
    objectKey: `sha256/${sha256}`,
    createdAt: at(0),
    ...overrides,
  };
};

const sha256Hex = () => randomUUID().replace(/-/g, '').repeat(2);
const prediction = (overrides: Partial<PredictionRecord> = {}): PredictionRecord => ({
  sha256: sha256Hex(),
  modelName: 'bottle-state',
  modelVersion: '2',
  label: 'closed',
  confidence: 0.9,
  scores: { closed: 0.9, open: 0.1 },
  createdAt: at(0),
  ...overrides,
});
const predictionLog = (overrides: Partial<PredictionLogRecord> = {}): PredictionLogRecord => ({
  id: randomUUID(),
  at: at(0),
  imageId: newId<ImageId>(),
  userId: newId<UserId>(),
  apiKeyId: null,
  clientIp: '203.0.113.7',
  userAgent: 'bottling-line/3',
  imageFormat: 'jpeg',
  imageSha256: sha256Hex(),
  label: 'open',
  confidence: 0.8,
  modelName: 'bottle-state',
  modelVersion: '2',
  cached: false,
  latencyMs: 12.5,
  ...overrides,
});

/** What every metadata adapter must do. Each test makes its own records; the store may be shared. */
export function metadataContract(open: () => Promise<MetadataStore>): void {
  let store: MetadataStore;
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

  describe('images', () => {
    test('create then find by the owner, fields intact; another owner finds nothing', async () => {
      const owner = newId<UserId>();
      const img = image(owner, { format: 'webp', width: 1, height: 2, createdAt: at(42) });
      await store.images.create(img);
      expect(await store.images.findOwned(img.id, owner)).toEqual(img);
      expect(await store.images.findOwned(img.id, newId<UserId>())).toBeNull();
      expect(await store.images.findOwned(newId<ImageId>(), owner)).toBeNull();
    });

    test("list pages through the owner's images newest first, each once, and nobody else's", async () => {
      const owner = newId<UserId>();
      const mine = [5, 3, 3, 1, 0].map((offset) => image(owner, { createdAt: at(offset) }));
      for (const img of mine) await store.images.create(img);
      await store.images.create(image(newId<UserId>(), { createdAt: at(4) }));
      const seen: ImageRecord[] = [];
      let cursor: string | undefined;
      for (let guard = 0; guard < 100; guard++) {
        const page = await store.images.listOwned(owner, { limit: 2, cursor });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      const expected = [...mine].sort(
        (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id.localeCompare(a.id),
      );
      expect(seen.map((i) => i.id)).toEqual(expected.map((i) => i.id));
    });

    test('an owner with no images gets an empty last page', async () => {
      expect(await store.images.listOwned(newId<UserId>(), { limit: 10 })).toEqual({ items: [], nextCursor: null });
    });

    test("deleteOwned removes only the owner's record and returns it once", async () => {
      const owner = newId<UserId>();
      const img = image(owner);
      await store.images.create(img);
      expect(await store.images.deleteOwned(img.id, newId<UserId>())).toBeNull();
      expect(await store.images.deleteOwned(img.id, owner)).toEqual(img);
      expect(await store.images.deleteOwned(img.id, owner)).toBeNull();
      expect(await store.images.findOwned(img.id, owner)).toBeNull();
    });

    test('countBySha256 counts records of every owner that share the bytes', async () => {
      const shared = image(newId<UserId>());
      const twin = image(newId<UserId>(), { sha256: shared.sha256, objectKey: shared.objectKey });
      expect(await store.images.countBySha256(shared.sha256)).toBe(0);
      await store.images.create(shared);
      await store.images.create(twin);
      expect(await store.images.countBySha256(shared.sha256)).toBe(2);
      await store.images.deleteOwned(twin.id, twin.ownerId);
      expect(await store.images.countBySha256(shared.sha256)).toBe(1);
    });
  });

  describe('predictions', () => {
    test('save then find by (sha256, model, version); another version is not the same verdict', async () => {
      const p = prediction();
      await store.predictions.save(p);
      expect(await store.predictions.find(p.sha256, p.modelName, p.modelVersion)).toEqual(p);
      expect(await store.predictions.find(p.sha256, p.modelName, '1')).toBeNull();
    });

    test('saving the same key again keeps the first verdict', async () => {
      const p = prediction();
      await store.predictions.save(p);
      await store.predictions.save({ ...p, label: 'open', confidence: 0.6, scores: { closed: 0.4, open: 0.6 } });
      expect(await store.predictions.find(p.sha256, p.modelName, p.modelVersion)).toEqual(p);
    });

    test("deleteBySha256 drops every model's verdicts on those bytes, and only those", async () => {
      const p = prediction();
      const other = prediction();
      await Promise.all([
        store.predictions.save(p),
        store.predictions.save({ ...p, modelVersion: '1' }),
        store.predictions.save(other),
      ]);
      expect(await store.predictions.deleteBySha256(p.sha256)).toBe(2);
      expect(await store.predictions.find(p.sha256, p.modelName, '1')).toBeNull();
      expect(await store.predictions.find(other.sha256, other.modelName, other.modelVersion)).toEqual(other);
    });
  });

  describe('prediction logs', () => {
    test('appends made together are all kept; a query pages through them newest first, by label', async () => {
      const label = `label-${randomUUID()}`; // this test's records only
      const logs = Array.from({ length: 25 }, (_, i) => predictionLog({ at: at(i * 1000), label }));
      await Promise.all(logs.map((l) => store.predictionLogs.append(l)));
      const seen: PredictionLogRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.predictionLogs.query({ from: at(0), to: at(25_000), label, limit: 10, cursor });
        seen.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toEqual([...logs].reverse());
      const window = await store.predictionLogs.query({ from: at(5000), to: at(7000), label, limit: 10 });
      expect(window.items.map((l) => l.at)).toEqual([at(6000), at(5000)]);
    });

    test('a record that cannot be stored fails alone: the others appended with it are kept', async () => {
      const label = `label-${randomUUID()}`;
      const taken = predictionLog({ label });
      await store.predictionLogs.append(taken);
      const others = [predictionLog({ label }), predictionLog({ label })];
      const outcomes = await Promise.allSettled([
        store.predictionLogs.append(others[0]!),
        store.predictionLogs.append({ ...taken, at: at(1) }), // the same id again
        store.predictionLogs.append(others[1]!),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const stored = await store.predictionLogs.query({ from: at(0), to: at(10), label, limit: 10 });
      expect(new Set(stored.items.map((l) => l.id))).toEqual(new Set([taken.id, others[0]!.id, others[1]!.id]));
    });

    test('retention removes records older than the date and keeps the rest', async () => {
      const label = `label-${randomUUID()}`;
      const old = predictionLog({ label, at: new Date(Date.UTC(1990, 0, 1)) });
      const recent = predictionLog({ label, at: new Date(Date.UTC(1991, 0, 1)) });
      await Promise.all([store.predictionLogs.append(old), store.predictionLogs.append(recent)]);
      expect(await store.predictionLogs.deleteOlderThan(new Date(Date.UTC(1990, 6, 1)))).toBeGreaterThanOrEqual(1);
      const left = await store.predictionLogs.query({
        from: new Date(Date.UTC(1989, 0, 1)),
        to: new Date(Date.UTC(1992, 0, 1)),
        label,
        limit: 10,
      });
      expect(left.items).toEqual([recent]);
    });
  });
}
