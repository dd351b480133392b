import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { ReadinessCheck } from './health';

const windowMs = 1000;
let monitor: { histogram: IntervalHistogram; lastWindowP99Ms: number } | null = null;

/** One monitor per process, however many apps it hosts: p99 of the event-loop delay over the last second. */
function eventLoopMonitor(): { lastWindowP99Ms: number } {
  if (!monitor) {
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    const state = { histogram, lastWindowP99Ms: 0 };
    // A rolling window, not "since start": readiness must recover once the burst is over.
    setInterval(() => {
      state.lastWindowP99Ms = histogram.percentile(99) / 1e6;
      histogram.reset();
    }, windowMs).unref();
    monitor = state;
  }
  return monitor;
}

/**
 * Starts the monitor with the process (the shell), not when an app is assembled: the histogram's first
 * sample only sets its baseline, so a stall that begins before that sample (within 10 ms of starting) is
 * never recorded. Idempotent.
 */
export function startEventLoopMonitor(): void {
  eventLoopMonitor();
}

/**
 * Fails readiness while this process is saturated: when the event loop's p99 delay over the last second
 * exceeds `maxDelayMs`, every request waits at least that long, so the load balancer should send new work
 * to another replica (or the backup pool) until it recovers.
 */
export function eventLoopDelayCheck(maxDelayMs: number): ReadinessCheck {
  eventLoopMonitor();
  return {
    name: 'event-loop',
    async check() {
      const delay = eventLoopMonitor().lastWindowP99Ms;
      if (delay > maxDelayMs) {
        throw new Error(`saturated: event loop delay p99 ${delay.toFixed(0)} ms over ${maxDelayMs} ms`);
      }
    },
  };
}
