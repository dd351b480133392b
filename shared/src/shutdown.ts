import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { ConfigError } from './config';
import type { Lifecycle } from './http';
import type { Logger } from './logger';
import { createHttpServer, type ServerTimeouts } from './server';

export type Closer = { name: string; close(): Promise<void> };

export interface GracefulShutdownOptions {
  server: Server;
  lifecycle: Lifecycle;
  logger: Logger;
  /** Closed in reverse order after the HTTP server has drained (stores opened first close last). */
  closers: Closer[];
  /** How long in-flight requests may take before their connections are cut. */
  drainTimeoutMs: number;
}

/**
 * The shutdown order of nodebestpractices §8.6: fail readiness, stop accepting, let in-flight requests
 * finish (bounded), then close brokers and stores. Returns the function so tests can call it without signals.
 */
export function gracefulShutdown(options: GracefulShutdownOptions): () => Promise<void> {
  const { server, lifecycle, logger, closers, drainTimeoutMs } = options;
  const inFlight = trackInFlightResponses(server);
  let done: Promise<void> | undefined;
  const run = async () => {
    lifecycle.draining = true;
    // A response already past the shell's middleware would still say keep-alive; a client would then
    // reuse a socket we are about to close and could not tell whether its next request ran.
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    logger.info('shutdown: draining in-flight requests');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Idle keep-alive sockets would hold close() open. A busy socket becomes idle once its response is
    // sent; sweep until the server has closed so none waits out its keep-alive timeout.
    server.closeIdleConnections();
    const sweeper = setInterval(() => server.closeIdleConnections(), 100);
    const timer = setTimeout(() => {
      logger.warn({ drainTimeoutMs }, 'shutdown: drain timed out, cutting remaining connections');
      server.closeAllConnections();
    }, drainTimeoutMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
    clearInterval(sweeper);
    for (const closer of [...closers].reverse()) {
      try {
        await closer.close();
        logger.info({ closer: closer.name }, 'shutdown: closed');
      } catch (err) {
        logger.error({ err, closer: closer.name }, 'shutdown: close failed');
      }
    }
    logger.info('shutdown: complete');
  };
  return () => (done ??= run());
}

/** The responses not yet finished, so draining can tell each of them to end its connection. */
function trackInFlightResponses(server: Server): Set<ServerResponse> {
  const inFlight = new Set<ServerResponse>();
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  return inFlight;
}

/** Wires SIGTERM/SIGINT to a shutdown and exits when it is over. */
export function exitOnSignals(shutdown: () => Promise<void>, logger: Logger): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received');
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.fatal({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

/**
 * What every `main.ts` ends with: listen, log where, and on SIGTERM/SIGINT drain and close the given
 * resources (in reverse order) before exiting.
 */
export function serve(
  app: RequestListener,
  options: Omit<GracefulShutdownOptions, 'server'> & {
    port: number;
    host: string;
    timeouts: ServerTimeouts;
    listening: Record<string, unknown>;
  },
): Server {
  const { port, host, timeouts, listening, ...shutdown } = options;
  const server = createHttpServer(app, timeouts).listen(port, host, () =>
    options.logger.info({ url: `http://${host}:${port}`, ...listening }, `${String(listening.service)} is listening`),
  );
  exitOnSignals(gracefulShutdown({ ...shutdown, server }), options.logger);
  return server;
}

/** The entry point's catch-all: a bad setting prints its message alone; anything else, its stack. */
export function exitOnStartupFailure(err: unknown): never {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
