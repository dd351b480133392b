/** The state of one key's budget after a call. */
export interface RateLimitState {
  allowed: boolean;
  remaining: number;
  /** Seconds until the budget frees up (0 when allowed). */
  retryAfterSeconds: number;
}

/**
 * A fixed budget of `points` per `durationSeconds` per key, shared by every replica that uses the
 * same backing store.
 */
export interface RateLimiter {
  /** Spends points; `allowed` is false once the budget is exhausted. */
  consume(key: string, points?: number): Promise<RateLimitState>;
  /** Reads the state without spending anything. */
  peek(key: string): Promise<RateLimitState>;
  reset(key: string): Promise<void>;
}

export interface RateLimitPolicy {
  /** Namespaces keys so two policies on one store never collide. */
  name: string;
  points: number;
  durationSeconds: number;
  /**
   * While a shared store is unreachable each replica decides from its own counts (starting from the
   * last counts the store gave it), so N replicas may allow up to N budgets. After this many seconds
   * of outage the policy refuses every call instead (fails closed). Unset: it keeps deciding locally.
   */
  failClosedAfterOutageSeconds?: number;
}

export interface RateLimiterFactory {
  create(policy: RateLimitPolicy): RateLimiter;
  ping(): Promise<void>;
  close(): Promise<void>;
}
