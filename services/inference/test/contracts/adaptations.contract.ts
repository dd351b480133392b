import { randomUUID } from 'node:crypto';
import { newId, type UserId } from '@capcheck/shared';
import type { AdaptationRecord, InferenceStore } from '@capcheck/inference';

const adaptation = (overrides: Partial<AdaptationRecord> = {}): AdaptationRecord => ({
  id: randomUUID(),
  // Each test its own model name: one active adaptation per model is the rule under test.
  modelName: `model-${randomUUID()}`,
  parentVersion: '2',
  status: 'queued',
  requestedBy: newId<UserId>(),
  createdAt: new Date(Date.UTC(2026, 0, 1)),
  updatedAt: new Date(Date.UTC(2026, 0, 1)),
  version: null,
  examples: null,
  metrics: null,
  error: null,
  ...overrides,
});

/** What every adapter's adaptation repository must do. */
export function adaptationRepositoryContract(open: () => Promise<InferenceStore>): void {
  let store: InferenceStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(() => store?.close());

  test('start then find gives the record back; an unknown id is null', async () => {
    const a = adaptation();
    expect(await store.adaptations.start(a)).toBe(true);
    expect(await store.adaptations.find(a.id)).toEqual(a);
    expect(await store.adaptations.find(randomUUID())).toBeNull();
  });

  test('one queued or running adaptation per model: a second start is refused until the first ends', async () => {
    const first = adaptation();
    expect(await store.adaptations.start(first)).toBe(true);
    const second = adaptation({ modelName: first.modelName });
    expect(await store.adaptations.start(second)).toBe(false);
    expect(await store.adaptations.find(second.id)).toBeNull();
    await store.adaptations.update(first.id, { status: 'running' });
    expect(await store.adaptations.start(second)).toBe(false);
    await store.adaptations.update(first.id, { status: 'succeeded', version: '3' });
    expect(await store.adaptations.start(second)).toBe(true);
    // Another model is not held up by this one.
    expect(await store.adaptations.start(adaptation())).toBe(true);
  });

  test('update sets only the given fields, objects included', async () => {
    const a = adaptation();
    await store.adaptations.start(a);
    const later = new Date(Date.UTC(2026, 0, 2));
    const metrics = { candidate: { accuracy: 0.97 }, current: { accuracy: 0.8 } };
    await store.adaptations.update(a.id, {
      status: 'succeeded',
      version: '7',
      examples: { train: 45, heldOut: 15 },
      metrics,
      updatedAt: later,
    });
    expect(await store.adaptations.find(a.id)).toEqual({
      ...a,
      status: 'succeeded',
      version: '7',
      examples: { train: 45, heldOut: 15 },
      metrics,
      updatedAt: later,
    });
  });

  test('list gives a model’s adaptations newest first, up to the limit', async () => {
    const modelName = `model-${randomUUID()}`;
    const made = [1, 2, 3].map((day) =>
      adaptation({ modelName, status: 'failed', createdAt: new Date(Date.UTC(2026, 0, day)) }),
    );
    for (const a of made) await store.adaptations.start(a);
    const listed = await store.adaptations.list(modelName, 2);
    expect(listed.map((a) => a.id)).toEqual([made[2]!.id, made[1]!.id]);
  });

  test('abandon fails the active adaptations not updated since the date, and frees the model', async () => {
    const stale = adaptation({ status: 'running', updatedAt: new Date(Date.UTC(2026, 0, 1)) });
    const fresh = adaptation({ status: 'running', updatedAt: new Date(Date.UTC(2030, 0, 1)) });
    const done = adaptation({ status: 'succeeded', updatedAt: new Date(Date.UTC(2026, 0, 1)) });
    for (const a of [stale, fresh, done]) await store.adaptations.start(a);
    expect(
      await store.adaptations.abandon(new Date(Date.UTC(2027, 0, 1)), 'its process stopped'),
    ).toBeGreaterThanOrEqual(1);
    expect(await store.adaptations.find(stale.id)).toMatchObject({ status: 'failed', error: 'its process stopped' });
    expect(await store.adaptations.find(fresh.id)).toMatchObject({ status: 'running' });
    expect(await store.adaptations.find(done.id)).toMatchObject({ status: 'succeeded', error: null });
    expect(await store.adaptations.start(adaptation({ modelName: stale.modelName }))).toBe(true);
  });
}
