import { randomUUID } from 'node:crypto';
import { newId, type ImageId, type UserId } from '@capcheck/shared';
import type {
  FeedbackRecord,
  InferenceStore,
  PredictionLogRecord,
  PredictionRecord,
  RolloutRecord,
} from '@capcheck/inference';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
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
  shadowModelVersion: null,
  shadowLabel: null,
  shadowConfidence: null,
  ...overrides,
});

const feedback = (overrides: Partial<FeedbackRecord> = {}): FeedbackRecord => ({
  imageId: newId<ImageId>(),
  userId: newId<UserId>(),
  sha256: sha256Hex(),
  label: 'open',
  predicted: { label: 'closed', confidence: 0.7, model: { name: 'bottle-state', version: '3' } },
  createdAt: at(0),
  updatedAt: at(0),
  ...overrides,
});

/** What every adapter of the inference store must do. Each test makes its own records; the store may be shared. */
export function inferenceStoreContract(open: () => Promise<InferenceStore>): void {
  let store: InferenceStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(() => store?.close());

  test('ping answers', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
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

    test('a picture predicted without being stored is logged with no image id', async () => {
      const label = `label-${randomUUID()}`;
      const log = predictionLog({ imageId: null, label });
      await store.predictionLogs.append(log);
      const page = await store.predictionLogs.query({ from: at(0), to: at(1), label, limit: 10 });
      expect(page.items).toEqual([log]);
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

    test("a shadow candidate's answer is added to a logged prediction, and only to it", async () => {
      const label = `label-${randomUUID()}`;
      const [shadowed, other] = [predictionLog({ label }), predictionLog({ label, at: at(1) })];
      await Promise.all([store.predictionLogs.append(shadowed), store.predictionLogs.append(other)]);
      await store.predictionLogs.recordShadow(shadowed.id, { modelVersion: '3', label: 'closed', confidence: 0.75 });
      await store.predictionLogs.recordShadow(randomUUID(), { modelVersion: '3', label: 'open', confidence: 0.5 });
      const page = await store.predictionLogs.query({ from: at(0), to: at(10), label, limit: 10 });
      expect(page.items).toEqual([
        other,
        { ...shadowed, shadowModelVersion: '3', shadowLabel: 'closed', shadowConfidence: 0.75 },
      ]);
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
  describe('feedback', () => {
    test('upsert then find by image id; an unknown image has none', async () => {
      const f = feedback();
      expect(await store.feedback.upsert(f)).toEqual(f);
      expect(await store.feedback.find(f.imageId)).toEqual(f);
      expect(await store.feedback.find(newId<ImageId>())).toBeNull();
    });

    test('the last answer wins; the first answer keeps its date', async () => {
      const first = feedback({ label: 'open', createdAt: at(0), updatedAt: at(0) });
      await store.feedback.upsert(first);
      const again = {
        ...first,
        label: 'closed',
        predicted: { label: 'closed', confidence: 0.9, model: { name: 'bottle-state', version: '4' } },
        createdAt: at(5000),
        updatedAt: at(5000),
      };
      const stored = await store.feedback.upsert(again);
      expect(stored).toEqual({ ...again, createdAt: at(0) });
      expect(await store.feedback.find(first.imageId)).toEqual(stored);
    });

    test('list pages newest answer first, by label; an answer changed later comes first', async () => {
      const label = `label-${randomUUID()}`; // this test's records only
      const answers = Array.from({ length: 12 }, (_, i) => feedback({ label, createdAt: at(i), updatedAt: at(i) }));
      for (const f of answers) await store.feedback.upsert(f);
      const changed = { ...answers[0]!, updatedAt: at(100) };
      await store.feedback.upsert(changed);
      const seen: FeedbackRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.feedback.list({ label, limit: 5, cursor });
        expect(page.items.length).toBeLessThanOrEqual(5);
        seen.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toEqual([changed, ...answers.slice(1).reverse()]);
      expect((await store.feedback.list({ label: `label-${randomUUID()}`, limit: 5 })).items).toEqual([]);
    });

    test('list without a label holds every label, newest first', async () => {
      const open = feedback({ label: 'open', updatedAt: new Date(Date.UTC(2999, 0, 2)) });
      const closed = feedback({ label: 'closed', updatedAt: new Date(Date.UTC(2999, 0, 1)) });
      await Promise.all([store.feedback.upsert(open), store.feedback.upsert(closed)]);
      const page = await store.feedback.list({ limit: 500 });
      const mine = page.items.filter((f) => f.imageId === open.imageId || f.imageId === closed.imageId);
      expect(mine).toEqual([open, closed]);
    });

    test("deleteByImageId removes that image's answer only", async () => {
      const gone = feedback();
      const kept = feedback();
      await Promise.all([store.feedback.upsert(gone), store.feedback.upsert(kept)]);
      expect(await store.feedback.deleteByImageId(gone.imageId)).toBe(1);
      expect(await store.feedback.deleteByImageId(gone.imageId)).toBe(0);
      expect(await store.feedback.find(gone.imageId)).toBeNull();
      expect(await store.feedback.find(kept.imageId)).toEqual(kept);
    });

    test('labelled returns every answer, with the sha256 adaptation reads the bytes by', async () => {
      const answers = [feedback({ label: 'open' }), feedback({ label: 'closed' })];
      await Promise.all(answers.map((f) => store.feedback.upsert(f)));
      const all = await store.feedback.labelled();
      for (const f of answers) expect(all.find((r) => r.imageId === f.imageId)).toEqual(f);
      const ids = all.map((r) => r.imageId);
      expect(ids).toEqual([...ids].sort());
    });
  });

  describe('rollouts', () => {
    const rollout = (overrides: Partial<RolloutRecord> = {}): RolloutRecord => ({
      modelName: `model-${randomUUID()}`, // this test's own model
      current: '2',
      candidate: { version: '3', mode: 'canary', percent: 25 },
      updatedAt: at(0),
      updatedBy: newId<UserId>(),
      ...overrides,
    });

    test('a model without a rollout has none', async () => {
      expect(await store.rollouts.find(`model-${randomUUID()}`)).toBeNull();
    });

    test('save then find; saving again replaces it (the last write wins), other models untouched', async () => {
      const first = rollout();
      const other = rollout({ candidate: { version: '4', mode: 'shadow', percent: null } });
      await store.rollouts.save(first);
      await store.rollouts.save(other);
      expect(await store.rollouts.find(first.modelName)).toEqual(first);
      const full = { ...first, current: '3', candidate: null, updatedAt: at(5000), updatedBy: newId<UserId>() };
      await store.rollouts.save(full);
      expect(await store.rollouts.find(first.modelName)).toEqual(full);
      expect(await store.rollouts.find(other.modelName)).toEqual(other);
    });
  });
}
