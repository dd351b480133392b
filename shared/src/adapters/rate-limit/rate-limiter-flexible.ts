import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimiter, RateLimiterFactory, RateLimitPolicy, RateLimitState } from '../../ports/rate-limit';

/**
 * After consume, the call was allowed if it stayed within the budget; for peek, the next call would be
 * allowed only if budget is left.
 */
const stateOf = (res: RateLimiterRes | null, points: number, mode: 'consumed' | 'peeked'): RateLimitState => {
  if (!res) return { allowed: true, remaining: points, retryAfterSeconds: 0 };
  const allowed = mode === 'consumed' ? res.consumedPoints <= points : res.consumedPoints < points;
  return {
    allowed,
    remaining: Math.max(0, res.remainingPoints),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  };
};

/** Both adapters are rate-limiter-flexible underneath; only the backing store differs. */
class FlexibleRateLimiter implements RateLimiter {
  constructor(
    private readonly limiter: RateLimiterAbstract,
    private readonly points: number,
  ) {}

  async consume(key: string, points = 1): Promise<RateLimitState> {
    try {
      return stateOf(await this.limiter.consume(key, points), this.points, 'consumed');
    } catch (rejection) {
      // rate-limiter-flexible rejects with the state when the budget is spent, with an Error on store failure.
      if (rejection instanceof RateLimiterRes) return stateOf(rejection, this.points, 'consumed');
      throw rejection;
    }
  }

  async peek(key: string): Promise<RateLimitState> {
    return stateOf(await this.limiter.get(key), this.points, 'peeked');
  }

  async reset(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}

/** In-process counters: the embedded default, right for one process and only one. */
export function createMemoryRateLimiters(): RateLimiterFactory {
  return {
    create: (policy: RateLimitPolicy) =>
      new FlexibleRateLimiter(
        new RateLimiterMemory({ keyPrefix: policy.name, points: policy.points, duration: policy.durationSeconds }),
        policy.points,
      ),
    ping: async () => undefined,
    close: async () => undefined,
  };
}

/**
 * One fixed window per key, kept in this process: what Redis last said about each key (refreshed on
 * every answer), and the counts this replica keeps while Redis is unreachable. Falling back therefore
 * continues from the spent budget instead of starting a fresh one. Bounded: the oldest keys go first.
 */
class LastKnownCounts {
  private readonly windows = new Map<string, { consumed: number; resetAt: number }>();

  constructor(
    private readonly points: number,
    private readonly durationMs: number,
    private readonly maxKeys = 100_000,
  ) {}

  remember(key: string, res: RateLimiterRes): void {
    this.windows.delete(key); // re-inserted last: the Map's order is the eviction order
    this.windows.set(key, { consumed: res.consumedPoints, resetAt: Date.now() + res.msBeforeNext });
    if (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
  }

  consume(key: string, points: number): RateLimiterRes {
    const current = this.current(key);
    const res = this.resOf(current.consumed + points, current.resetAt);
    this.remember(key, res);
    return res;
  }

  peek(key: string): RateLimiterRes | null {
    const current = this.current(key);
    return current.consumed === 0 ? null : this.resOf(current.consumed, current.resetAt);
  }

  forget(key: string): void {
    this.windows.delete(key);
  }

  private current(key: string): { consumed: number; resetAt: number } {
    const known = this.windows.get(key);
    return known && known.resetAt > Date.now() ? known : { consumed: 0, resetAt: Date.now() + this.durationMs };
  }

  private resOf(consumed: number, resetAt: number): RateLimiterRes {
    return new RateLimiterRes(Math.max(0, this.points - consumed), resetAt - Date.now(), consumed, false);
  }
}

/**
 * Counters in Redis, shared by every replica. When Redis fails, the limiter decides from the last known
 * counts (never a fresh budget), and a policy with `failClosedAfterOutageSeconds` refuses everything once
 * the outage is that old, since every replica's fallback adds its own budget. Readiness reports the outage.
 */
class RedisRateLimiter implements RateLimiter {
  private readonly counts: LastKnownCounts;

  constructor(
    private readonly limiter: RateLimiterRedis,
    private readonly policy: RateLimitPolicy,
    private readonly outage: StoreOutage,
  ) {
    this.counts = new LastKnownCounts(policy.points, policy.durationSeconds * 1000);
  }

  async consume(key: string, points = 1): Promise<RateLimitState> {
    let res: RateLimiterRes;
    try {
      res = await this.limiter.consume(key, points);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes))
        return this.fallback(() => this.counts.consume(key, points), 'consumed');
      res = rejection;
    }
    return this.answered(key, res, 'consumed');
  }

  async peek(key: string): Promise<RateLimitState> {
    let res: RateLimiterRes | null;
    try {
      res = await this.limiter.get(key);
    } catch {
      return this.fallback(() => this.counts.peek(key), 'peeked');
    }
    if (!res) return stateOf(null, this.policy.points, 'peeked');
    return this.answered(key, res, 'peeked');
  }

  async reset(key: string): Promise<void> {
    this.counts.forget(key);
    await this.limiter.delete(key).catch(() => undefined); // a budget Redis still holds only errs on the strict side
  }

  private answered(key: string, res: RateLimiterRes, mode: 'consumed' | 'peeked'): RateLimitState {
    this.outage.ended();
    this.counts.remember(key, res);
    return stateOf(res, this.policy.points, mode);
  }

  private fallback(local: () => RateLimiterRes | null, mode: 'consumed' | 'peeked'): RateLimitState {
    this.outage.began();
    const bound = this.policy.failClosedAfterOutageSeconds;
    if (bound !== undefined && this.outage.lastedMs() >= bound * 1000) {
      return { allowed: false, remaining: 0, retryAfterSeconds: Math.max(1, bound) };
    }
    return stateOf(local(), this.policy.points, mode);
  }
}

/** Since when the store has been unreachable: the first failure starts it, a reconnect or an answer ends it. */
class StoreOutage {
  private since: number | null = null;
  began(): void {
    this.since ??= Date.now();
  }
  ended(): void {
    this.since = null;
  }
  lastedMs(): number {
    return this.since === null ? 0 : Date.now() - this.since;
  }
}

export async function createRedisRateLimiters(
  redisUrl: string,
  keyPrefix = 'capcheck:rl',
): Promise<RateLimiterFactory> {
  const client = new Redis(redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    // A command caught by a connection that drops as it is sent must not wait for ever (a login would
    // hang): it fails after these bounds and the limiter falls back as for any outage.
    connectTimeout: 2_000,
    commandTimeout: 1_000,
  });
  // Connection errors surface through ping() (readiness) and the fallback; no unhandled 'error' events.
  client.on('error', () => undefined);
  const outage = new StoreOutage();
  client.on('close', () => outage.began());
  client.on('ready', () => outage.ended());
  await client.connect();
  return {
    create: (policy: RateLimitPolicy) =>
      new RedisRateLimiter(
        new RateLimiterRedis({
          storeClient: client,
          keyPrefix: `${keyPrefix}:${policy.name}`,
          points: policy.points,
          duration: policy.durationSeconds,
        }),
        policy,
        outage,
      ),
    async ping() {
      await client.ping();
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
