import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { ZodError } from 'zod';
import { AppError, isStorageFull, statusOfKind } from './errors';
import { eventLoopDelayCheck } from './event-loop';
import { freeSpaceCheck, runReadinessChecks, type ReadinessCheck } from './health';
import { requestIdOf, requestLogger, type Logger } from './logger';
import { httpMetricsMiddleware, type Metrics } from './metrics';

/** Shared between the HTTP shell and graceful shutdown: once draining, /readyz fails and keep-alive ends. */
export class Lifecycle {
  draining = false;
}

export interface HttpShellOptions {
  /** `service` label and log name when no service router claimed the request. */
  name: string;
  logger: Logger;
  metrics: Metrics;
  readiness: readonly ReadinessCheck[];
  lifecycle: Lifecycle;
  /** Express `trust proxy`: which hops may set X-Forwarded-For (false when the process is the edge). */
  trustProxy: boolean | number | string | string[];
  /** Adds the service routes; runs after the common middleware and before the 404 and error handlers. */
  mount(app: Express): void;
  bodyLimit?: string;
  /**
   * Path prefixes whose request bodies the service reads itself (another size limit, its own error
   * format): the shell's JSON parser leaves them alone.
   */
  ownBodyPaths?: readonly string[];
  /** Readiness fails while the event loop's p99 delay is over this (saturation); 0 or unset: not checked. */
  maxEventLoopDelayMs?: number;
  /** Where the process writes (data, blobs, uploads): readiness reports a disk with less free space than `minFreeDiskBytes`. */
  storageDirs?: readonly string[];
  minFreeDiskBytes?: number;
}

/** What a service's `createApp` takes for its HTTP shell, besides its own adapters. */
export type ShellDeps = Pick<
  HttpShellOptions,
  'lifecycle' | 'trustProxy' | 'maxEventLoopDelayMs' | 'storageDirs' | 'minFreeDiskBytes'
>;

/**
 * The one HTTP skeleton every service (and the local all-in-one process) uses: request ids and logs,
 * metrics, health, JSON bodies, then the service routes, then one 404 and one error handler.
 */
export function createHttpApp(options: HttpShellOptions): Express {
  const { name, logger, metrics, lifecycle } = options;
  const readiness = [...options.readiness];
  if (options.maxEventLoopDelayMs) readiness.push(eventLoopDelayCheck(options.maxEventLoopDelayMs));
  if (options.storageDirs?.length) {
    readiness.push(freeSpaceCheck(options.storageDirs, options.minFreeDiskBytes ?? 0));
  }
  const app = express();
  app.disable('x-powered-by');
  // Answers are `Cache-Control: no-store` (below), so an ETag would never be used, and Express would hash
  // every body for one. A route with a real validator sets its own (an image's content: its sha256).
  app.set('etag', false);
  app.set('trust proxy', options.trustProxy);
  app.set('query parser', 'simple');

  app.use(requestLogger(logger));
  app.use(httpMetricsMiddleware(metrics, name));
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    if (lifecycle.draining) res.setHeader('Connection', 'close');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (lifecycle.draining) {
      res.status(503).json({ status: 'draining', checks: {} });
      return;
    }
    const report = await runReadinessChecks(readiness);
    const status = !report.ready ? 'not_ready' : report.degraded ? 'degraded' : 'ready';
    res.status(report.ready ? 200 : 503).json({ status, checks: report.checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const json = express.json({ limit: options.bodyLimit ?? '16kb', strict: true });
  const ownBodyPaths = options.ownBodyPaths ?? [];
  app.use((req, res, next) => (ownBodyPaths.some((p) => req.path.startsWith(p)) ? next() : json(req, res, next)));
  options.mount(app);

  app.use((_req, _res, next) => next(new AppError('not_found', 'route_not_found', 'no such route')));
  app.use(errorHandler(logger));
  return app;
}

/** How much of a refused request's body, and for how long, the server reads and throws away after answering. */
export interface LingerBounds {
  maxBytes: number;
  /** The whole lingering, however steadily the client sends (nginx's lingering_time). */
  maxMs: number;
  /** A pause in the client's sending that ends it (nginx's lingering_timeout). */
  idleMs: number;
}

/** Enough for a client that sends a somewhat oversized upload whole, even on a busy machine; bounded for a hostile one. */
export const defaultLingerBounds: LingerBounds = { maxBytes: 16 * 1024 * 1024, maxMs: 30_000, idleMs: 5_000 };

/**
 * Answers, then ends the connection the way nginx's lingering close does. Closing a socket with unread
 * bytes makes the kernel send a reset, and a client that writes its whole body before reading (Node's
 * fetch, most libraries) then sees EPIPE instead of our answer. So the rest of the body is read and thrown
 * away, and the connection closes once the body has ended, or at once past the bounds.
 */
export function closeAfterLingering(req: Request, res: Response, bounds: LingerBounds = defaultLingerBounds): void {
  res.setHeader('Connection', 'close');
  if (req.complete) return;
  const socket = req.socket;
  const cut = () => socket.destroy();
  const whole = setTimeout(cut, bounds.maxMs);
  let idle = setTimeout(cut, bounds.idleMs);
  whole.unref();
  idle.unref();
  socket.once('close', () => {
    clearTimeout(whole);
    clearTimeout(idle);
  });
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > bounds.maxBytes) return cut();
    clearTimeout(idle);
    idle = setTimeout(cut, bounds.idleMs);
    idle.unref();
  });
  req.resume();
  // Node calls destroySoon once a "Connection: close" response is sent; wait for the body's end first.
  const destroySoon = socket.destroySoon.bind(socket);
  socket.destroySoon = () => (req.complete ? destroySoon() : req.once('end', destroySoon));
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
}

export function sendError(res: Response, status: number, code: string, message: string, details?: unknown): void {
  res.status(status).json({ error: details === undefined ? { code, message } : { code, message, details } });
}

/** The one place where failures become responses. Nothing internal (stack, class names) leaves the process. */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const reqId = requestIdOf(res);
    const log = reqId ? logger.child({ reqId }) : logger;
    if (res.headersSent) {
      log.error({ err }, 'error after response started');
      res.destroy();
      return;
    }
    // Refused before its body was read (401 on an upload, 413 on a declared length, 415...): the answer
    // must reach a client that is still sending, and the rest of the body must not be read forever.
    if (!req.complete) closeAfterLingering(req, res);
    if (err instanceof AppError) {
      if (err.extra.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(err.extra.retryAfterSeconds));
      if (err.kind === 'unauthenticated') res.setHeader('WWW-Authenticate', `Bearer error="invalid_token"`);
      sendError(res, statusOfKind[err.kind], err.code, err.message, err.extra.details);
      return;
    }
    if (err instanceof ZodError) {
      sendError(res, 400, 'invalid_request', 'the request is not valid', describeZodIssues(err));
      return;
    }
    const bodyError = err as BodyParserError;
    if (bodyError.type === 'entity.parse.failed') {
      sendError(res, 400, 'invalid_json', 'the body is not valid JSON');
      return;
    }
    if (bodyError.type === 'entity.too.large') {
      sendError(res, 413, 'body_too_large', 'the body is too large');
      return;
    }
    if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
      sendError(res, bodyError.status, 'bad_request', 'the request could not be read');
      return;
    }
    if (isStorageFull(err)) {
      log.error({ err }, 'storage full');
      sendError(res, 507, 'insufficient_storage', 'there is no room left to store this; reading still works');
      return;
    }
    log.error({ err }, 'unhandled error');
    sendError(res, 500, 'internal_error', 'something went wrong on our side');
  };
}

function describeZodIssues(err: ZodError): { path: string; message: string }[] {
  return err.issues.map((issue) => ({ path: issue.path.join('.') || '(body)', message: issue.message }));
}
