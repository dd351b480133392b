import { randomUUID } from 'node:crypto';
import type { RateLimiterFactory } from '@capcheck/shared';

export function rateLimitContract(open: () => Promise<RateLimiterFactory>): void {
  let factory: RateLimiterFactory;
  beforeAll(async () => {
    factory = await open();
  });
  afterAll(() => factory?.close());
  // Unique policy names and keys: the store may be shared with other runs.
  const policy = (points: number, durationSeconds = 60) => ({
    name: `contract-${randomUUID()}`,
    points,
    durationSeconds,
  });

  test('ping answers', async () => {
    await expect(factory.ping()).resolves.toBeUndefined();
  });

  test('allows exactly `points` calls, then refuses with a retry-after within the window', async () => {
    const limiter = factory.create(policy(3, 60));
    const states = [];
    for (let i = 0; i < 4; i++) states.push(await limiter.consume('k'));
    expect(states.map((s) => s.allowed)).toEqual([true, true, true, false]);
    expect(states.map((s) => s.remaining)).toEqual([2, 1, 0, 0]);
    expect(states[3]!.retryAfterSeconds).toBeGreaterThan(0);
    expect(states[3]!.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  test('peek reads without spending, and says when the budget is spent', async () => {
    const limiter = factory.create(policy(2));
    expect(await limiter.peek('k')).toEqual({ allowed: true, remaining: 2, retryAfterSeconds: 0 });
    await limiter.consume('k');
    expect((await limiter.peek('k')).remaining).toBe(1);
    expect((await limiter.peek('k')).remaining).toBe(1);
    await limiter.consume('k');
    const spent = await limiter.peek('k');
    expect(spent.allowed).toBe(false);
    expect(spent.retryAfterSeconds).toBeGreaterThan(0);
  });

  test('keys and policies are independent', async () => {
    const a = factory.create(policy(1));
    const b = factory.create(policy(1));
    expect((await a.consume('x')).allowed).toBe(true);
    expect((await a.consume('x')).allowed).toBe(false);
    expect((await a.consume('y')).allowed).toBe(true);
    expect((await b.consume('x')).allowed).toBe(true);
  });

  test('reset gives the budget back', async () => {
    const limiter = factory.create(policy(1));
    await limiter.consume('k');
    expect((await limiter.consume('k')).allowed).toBe(false);
    await limiter.reset('k');
    expect((await limiter.consume('k')).allowed).toBe(true);
  });

  test('parallel calls never exceed the budget', async () => {
    const limiter = factory.create(policy(5));
    const states = await Promise.all(Array.from({ length: 20 }, () => limiter.consume('k')));
    expect(states.filter((s) => s.allowed)).toHaveLength(5);
  });

  test('a window ends: the budget is back after durationSeconds', async () => {
    const limiter = factory.create(policy(1, 1));
    await limiter.consume('k');
    const refused = await limiter.consume('k');
    expect(refused.allowed).toBe(false);
    // Wait for the limiter's own deadline (not a guessed sleep): poll peek until it allows again.
    const deadline = Date.now() + 5000;
    let state = await limiter.peek('k');
    while (!state.allowed && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      state = await limiter.peek('k');
    }
    expect(state.allowed).toBe(true);
  });
}
