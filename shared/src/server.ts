import { createServer, IncomingMessage, ServerResponse, type RequestListener, type Server } from 'node:http';
import { z } from 'zod';
import { setting } from './config';

/** Every process's HTTP server limits, so no client holds a connection (and its memory) for long. */
export const serverTimeoutsConfigShape = {
  /** The whole request head must arrive within this. */
  HTTP_HEADERS_TIMEOUT_MS: setting.positiveInt(10_000),
  /** The whole request, head and body, must arrive within this (a 10 MB upload at 2 Mbit/s: ~40 s). */
  HTTP_REQUEST_TIMEOUT_MS: setting.positiveInt(60_000),
  /** A body that sends no byte for this long is cut (a trickle of one byte every few seconds). */
  HTTP_BODY_IDLE_TIMEOUT_MS: setting.positiveInt(10_000),
  /** How long an idle keep-alive connection is kept; set above the gateway's own idle timeout. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: setting.positiveInt(5_000),
};
type TimeoutsConfig = z.output<z.ZodObject<typeof serverTimeoutsConfigShape>>;

export interface ServerTimeouts {
  headersMs: number;
  requestMs: number;
  bodyIdleMs: number;
  keepAliveMs: number;
}

export const serverTimeouts = (config: TimeoutsConfig): ServerTimeouts => ({
  headersMs: config.HTTP_HEADERS_TIMEOUT_MS,
  requestMs: Math.max(config.HTTP_REQUEST_TIMEOUT_MS, config.HTTP_HEADERS_TIMEOUT_MS),
  bodyIdleMs: config.HTTP_BODY_IDLE_TIMEOUT_MS,
  keepAliveMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
});

export const defaultServerTimeouts = serverTimeouts(z.object(serverTimeoutsConfigShape).parse({}));

/**
 * The HTTP server every process listens with. Node's defaults would let a client hold a request for
 * 300 s, and check the head and request limits only every 30 s.
 */
export function createHttpServer(handler: RequestListener | ExpressLike, timeouts: ServerTimeouts): Server {
  const server = createServer(
    {
      ...bornWithPrototypesOf(handler),
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
    },
    handler,
  );
  server.prependListener('request', (req: IncomingMessage) => cutIdleBody(req, timeouts.bodyIdleMs));
  return server;
}

/** An Express app: a request listener that gives every request and response these prototypes. */
type ExpressLike = RequestListener & { request: IncomingMessage; response: ServerResponse };

/**
 * Express moves every request and response onto its own prototypes (`Object.setPrototypeOf`), which
 * gives each one a new hidden class: V8's inline caches then miss on their properties all along the
 * middleware chain (about a sixth of the event loop's time in an uncached prediction, `perf record`).
 * Made with those prototypes already, they keep one shape, and Express's move changes nothing.
 */
function bornWithPrototypesOf(handler: RequestListener | ExpressLike) {
  if (!('request' in handler && 'response' in handler)) return {};
  const request = withPrototype(IncomingMessage, handler.request);
  const response = withPrototype(ServerResponse, handler.response);
  return request && response ? { IncomingMessage: request, ServerResponse: response } : {};
}

/**
 * A constructor that runs `base` on an object made from `prototype`, or null if that prototype does not
 * inherit from base's or base is a class (Node's are old-style functions). Not
 * `Reflect.construct(base, args, Born)`: its objects lose the gain (0.83-0.89 ms of event loop a
 * prediction, against 0.56-0.65 ms).
 */
function withPrototype<C extends new (...args: never[]) => object>(base: C, prototype: InstanceType<C>): C | null {
  if (Function.prototype.toString.call(base).startsWith('class')) return null;
  if (!Object.prototype.isPrototypeOf.call(base.prototype, prototype)) return null;
  function Born(this: object, ...args: unknown[]) {
    Reflect.apply(base, this, args);
  }
  Born.prototype = prototype;
  return Born as unknown as C;
}

/**
 * While a body is arriving, a connection that brings no new byte for `idleMs` is cut. It watches the
 * socket's byte count rather than adding a listener, which would change how the body flows to the route.
 */
function cutIdleBody(req: IncomingMessage, idleMs: number): void {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!hasBody) return;
  const socket = req.socket;
  let seen = socket.bytesRead;
  let quietSince = Date.now();
  const tick = setInterval(
    () => {
      if (req.complete || socket.destroyed) return clearInterval(tick);
      if (socket.bytesRead !== seen) {
        seen = socket.bytesRead;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= idleMs) {
        clearInterval(tick);
        socket.destroy();
      }
    },
    Math.max(50, idleMs / 4),
  );
  tick.unref();
}
