import { AppError } from './errors';

export interface CircuitBreakerOptions {
  /** The neighbour, for errors and readiness (e.g. "images"). */
  name: string;
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit fails fast before one call may try again (half-open). */
  openMs: number;
}

/**
 * Calls to a neighbour service. After `failureThreshold` failures in a row, calls fail at once with
 * 503 and `Retry-After` instead of each waiting out its deadline; after `openMs` one call tries again,
 * and its success closes the circuit. `check()` is the neighbour's line in /readyz.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private trial: Promise<unknown> | null = null;

  constructor(private readonly options: CircuitBreakerOptions) {}

  async run<T>(call: () => Promise<T>, isFailure: (err: unknown) => boolean = () => true): Promise<T> {
    const now = Date.now();
    if (this.failures >= this.options.failureThreshold && (now < this.openUntil || this.trial)) {
      throw this.openError(Math.max(this.openUntil, now + 1000) - now);
    }
    const attempt = call();
    if (this.failures >= this.options.failureThreshold) this.trial = attempt; // half-open: this one call tries
    try {
      const result = await attempt;
      this.failures = 0;
      return result;
    } catch (err) {
      if (isFailure(err)) {
        this.failures += 1;
        if (this.failures >= this.options.failureThreshold) this.openUntil = Date.now() + this.options.openMs;
      }
      throw err;
    } finally {
      if (this.trial === attempt) this.trial = null;
    }
  }

  /** Rejects while the circuit is open, naming the neighbour. */
  async check(): Promise<void> {
    if (this.failures >= this.options.failureThreshold) {
      throw new Error(`${this.options.name} unreachable: ${this.failures} failed calls in a row`);
    }
  }

  private openError(retryInMs: number): AppError {
    return new AppError(
      'unavailable',
      `${this.options.name}_unavailable`,
      `the ${this.options.name} service is not answering; try again shortly`,
      { retryAfterSeconds: Math.max(1, Math.ceil(retryInMs / 1000)) },
    );
  }
}
