import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/**
 * One registry per process. Metric names are the same in every service; `service` is a label, so a
 * dashboard query works unchanged whether the services run in one process or in many containers.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<'service' | 'method' | 'route' | 'status_code'>;
  /** Kept here, not in one service, because any process that consumes events can dead-letter them. */
  readonly eventsDeadLettered: Counter<'queue' | 'reason'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by service, method, route template and status code',
    labelNames: ['service', 'method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const eventsDeadLettered = new Counter({
    name: 'capcheck_events_dead_lettered_total',
    help: 'Events moved to a dead-letter queue, by queue and reason (unreadable, attempts_exhausted)',
    labelNames: ['queue', 'reason'] as const,
    registers: [registry],
  });
  return { registry, httpRequestDuration, eventsDeadLettered };
}

/** Which service answered; set by each service's router so one process can host several. */
export const serviceOf = (res: Response, fallback: string): string =>
  typeof res.locals.service === 'string' ? res.locals.service : fallback;

export function httpMetricsMiddleware(metrics: Metrics, fallbackService: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const end = metrics.httpRequestDuration.startTimer();
    res.on('finish', () => {
      // The template, never the raw URL: ids in paths would explode the label set.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({
        service: serviceOf(res, fallbackService),
        method: req.method,
        route,
        status_code: String(res.statusCode),
      });
    });
    next();
  };
}
