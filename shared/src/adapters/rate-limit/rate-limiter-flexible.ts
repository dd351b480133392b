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
 * Counters in Redis, shared by every replica, so N replicas do not mean N times the budget. If Redis
 * fails mid-flight, each limiter falls back to in-process counters (rate-limiter-flexible's insurance
 * limiter) rather than failing logins; readiness reports the outage.
 */
export async function createRedisRateLimiters(
  redisUrl: string,
  keyPrefix = 'capcheck:rl',
): Promise<RateLimiterFactory> {
  const client = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  // Connection errors surface through ping() (readiness) and the insurance limiter; no unhandled 'error' events.
  client.on('error', () => undefined);
  await client.connect();
  return {
    create: (policy: RateLimitPolicy) =>
      new FlexibleRateLimiter(
        new RateLimiterRedis({
          storeClient: client,
          keyPrefix: `${keyPrefix}:${policy.name}`,
          points: policy.points,
          duration: policy.durationSeconds,
          insuranceLimiter: new RateLimiterMemory({
            keyPrefix: policy.name,
            points: policy.points,
            duration: policy.durationSeconds,
          }),
        }),
        policy.points,
      ),
    async ping() {
      await client.ping();
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
