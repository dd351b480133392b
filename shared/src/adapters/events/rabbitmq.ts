import type { Duplex } from 'node:stream';
import {
  connect,
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Options,
} from 'amqplib';
import type {
  CapcheckEvent,
  DeadLetterObserver,
  EventBus,
  EventType,
  HandlerOutcome,
  Subscription,
} from '../../ports/events';
import type { Logger } from '../../logger';

export interface RabbitMqOptions {
  url: string;
  /** Defaults to `capcheck.events`. */
  exchange?: string;
  logger: Logger;
  onDeadLetter?: DeadLetterObserver;
}

const knownTypes: ReadonlySet<string> = new Set<EventType>(['image.uploaded', 'image.deleted']);
const prefetch = 16;
const confirmTimeoutMs = 5000;
const firstBackoffMs = 100;
const maxBackoffMs = 5000;

interface Live {
  conn: ChannelModel;
  /** Publishes, including retries, so each is confirmed. */
  pub: ConfirmChannel;
  /** Consumes, with manual acks. */
  sub: Channel;
  consumerTags: string[];
}

/**
 * Events through a durable topic exchange (routing key = event type), one durable queue per consumer
 * group, and `<queue>.dead` behind the `<exchange>.dlx` exchange for what cannot be handled.
 *
 * Delivery is at least once: a handler that finished but whose ack was lost with the connection, or
 * a retry republished just before a crash, is delivered again. Consumers must be idempotent, keyed on
 * `eventId`. An event whose type no queue is bound to yet is dropped by the broker, as routing intends.
 *
 * The broker being down never blocks the caller: this resolves after the first connection attempt
 * (at most ~5 s) either way, and keeps reconnecting in the background (100 ms doubling to 5 s) until
 * `close()`, re-declaring the topology and every subscription each time. While disconnected, `publish`
 * and `ping` reject at once and `subscribe` registers the subscription for when the broker is back.
 */
export async function createRabbitMqEventBus(options: RabbitMqOptions): Promise<EventBus> {
  const { url } = options;
  const exchange = options.exchange ?? 'capcheck.events';
  const deadLetterExchange = `${exchange}.dlx`;
  const logger = options.logger.child({ component: 'events', broker: new URL(url).host });
  const subscriptions: Subscription[] = [];
  const inFlight = new Set<Promise<void>>();
  let live: Live | null = null;
  let closing = false;
  let connecting: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  let closed: Promise<void> | null = null;

  /** Opens a connection with its channels, topology and consumers; throws if any of it fails. */
  async function establish(): Promise<void> {
    // Each publish waits for its confirm, so Nagle's delay would be paid on every one.
    const conn = await connect(url, { timeout: confirmTimeoutMs, noDelay: true });
    // Any close before `live` is set fails this attempt; any close after it means recovery.
    let lost = false;
    const onLost = (what: string, err?: unknown) => {
      lost = true;
      if (live?.conn === conn) recover(what, err);
    };
    conn.on('error', (err: Error) => logger.warn({ err }, 'RabbitMQ connection error'));
    conn.on('close', (err?: Error) => {
      // Its channels report first, without the reason; the connection carries it (e.g. a broker shutdown).
      if (err && !closing) logger.warn({ err }, 'RabbitMQ connection closed');
      onLost('connection closed', err);
    });
    conn.on('blocked', (reason: string) => logger.warn({ reason }, 'RabbitMQ blocks publishing'));
    conn.on('unblocked', () => logger.info('RabbitMQ unblocked publishing'));
    try {
      const pub = await conn.createConfirmChannel();
      const sub = await conn.createChannel();
      for (const [name, channel] of [['publish', pub] as const, ['consume', sub] as const]) {
        channel.on('error', (err: Error) => logger.warn({ err, channel: name }, 'RabbitMQ channel error'));
        channel.on('close', () => onLost(`${name} channel closed`));
      }
      await pub.assertExchange(exchange, 'topic', { durable: true });
      await pub.assertExchange(deadLetterExchange, 'direct', { durable: true });
      await sub.prefetch(prefetch);
      const next: Live = { conn, pub, sub, consumerTags: [] };
      // A for-of over the live array also picks up subscriptions added while this runs.
      for (const subscription of subscriptions) {
        await declare(conn, subscription);
        await consume(next, subscription);
      }
      if (lost) throw new Error('connection lost while setting up');
      if (closing) throw new Error('event bus is closing');
      live = next;
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Declares on a short-lived channel, so a declaration the broker refuses (e.g. a queue that exists
   * with other arguments) fails that call instead of killing the shared channels.
   */
  async function declare(conn: ChannelModel, subscription: Subscription): Promise<void> {
    const channel = await conn.createChannel();
    channel.on('error', () => undefined); // the failed operation already rejects with it
    const { queue } = subscription;
    await channel.assertQueue(`${queue}.dead`, { durable: true });
    await channel.bindQueue(`${queue}.dead`, deadLetterExchange, queue);
    await channel.assertQueue(queue, { durable: true, deadLetterExchange, deadLetterRoutingKey: queue });
    for (const type of subscription.types) await channel.bindQueue(queue, exchange, type);
    await channel.close();
  }

  async function consume(target: Live, subscription: Subscription): Promise<void> {
    const { consumerTag } = await target.sub.consume(subscription.queue, (msg) => {
      if (!msg) {
        // The broker cancelled us (e.g. the queue was deleted): reconnecting re-declares it.
        if (live === target) recover(`consumer of ${subscription.queue} cancelled by the broker`);
        return;
      }
      const run = handle(target, subscription, msg).finally(() => inFlight.delete(run));
      inFlight.add(run);
    });
    target.consumerTags.push(consumerTag);
  }

  async function handle(target: Live, subscription: Subscription, msg: ConsumeMessage): Promise<void> {
    const { queue } = subscription;
    const event = parse(msg.content);
    if (!event) {
      logger.warn({ queue, messageId: msg.properties.messageId }, 'unreadable event dead-lettered');
      options.onDeadLetter?.(queue, 'unreadable');
      return settle(() => target.sub.nack(msg, false, false));
    }
    const attempt = (Number(msg.properties.headers?.['x-attempts']) || 0) + 1;
    const log = { queue, eventId: event.eventId, type: event.type, attempt };
    let outcome: HandlerOutcome | void;
    try {
      outcome = await subscription.handle(event);
    } catch (err) {
      logger.warn({ ...log, err }, 'event handler failed');
      outcome = 'retry';
    }
    if (outcome !== 'retry') return settle(() => target.sub.ack(msg));
    if (attempt >= (subscription.maxAttempts ?? 5)) {
      logger.error(log, 'event dead-lettered after its last attempt');
      options.onDeadLetter?.(queue, 'attempts_exhausted');
      return settle(() => target.sub.nack(msg, false, false));
    }
    // A requeue would come straight back with no count; a copy at the tail carries the attempt number.
    try {
      await confirmed(target.pub, '', queue, msg.content, {
        persistent: true,
        contentType: 'application/json',
        messageId: event.eventId,
        type: event.type,
        headers: { ...msg.properties.headers, 'x-attempts': attempt },
      });
      settle(() => target.sub.ack(msg));
    } catch (err) {
      logger.warn({ ...log, err }, 'could not republish for retry; requeueing');
      settle(() => target.sub.nack(msg, false, true));
    }
  }

  /** An ack or nack on a channel that has since closed throws; the broker redelivers such a message anyway. */
  function settle(action: () => void): void {
    try {
      action();
    } catch (err) {
      logger.debug({ err }, 'could not settle a message on a closed channel');
    }
  }

  function recover(what: string, err?: unknown): void {
    const dead = live;
    live = null;
    if (closing) return;
    logger.error({ err }, `RabbitMQ ${what}; reconnecting`);
    dead?.conn.close().catch(() => undefined);
    void reconnect();
  }

  function reconnect(): Promise<void> {
    connecting ??= (async () => {
      for (let delay = firstBackoffMs; ; delay = Math.min(delay * 2, maxBackoffMs)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
        if (closing) return;
        try {
          await establish();
          logger.info({ subscriptions: subscriptions.length }, 'RabbitMQ reconnected');
          return;
        } catch (err) {
          if (closing) return;
          logger.warn({ err, nextTryInMs: Math.min(delay * 2, maxBackoffMs) }, 'RabbitMQ still unavailable');
        }
      }
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  }

  function connected(): Live {
    if (closing) throw new Error('event bus is closed');
    if (!live) throw new Error('RabbitMQ is not connected');
    return live;
  }

  // The first attempt is bounded by the socket timeout; a failure is logged and retried in the background.
  try {
    await establish();
    logger.info('RabbitMQ connected');
  } catch (err) {
    logger.warn({ err }, 'RabbitMQ unavailable at start-up; retrying in the background');
    void reconnect();
  }

  return {
    async publish(event) {
      const target = connected();
      await confirmed(target.pub, exchange, event.type, Buffer.from(JSON.stringify(event)), {
        persistent: true,
        contentType: 'application/json',
        messageId: event.eventId,
        type: event.type,
      });
    },

    async subscribe(subscription) {
      if (closing) throw new Error('event bus is closed');
      subscriptions.push(subscription);
      const target = live;
      if (!target) return; // set up by the reconnection
      try {
        await declare(target.conn, subscription);
        await consume(target, subscription);
      } catch (err) {
        // Only a refusal on a connection that is still up is this subscription's fault.
        if (live !== target) return;
        subscriptions.splice(subscriptions.indexOf(subscription), 1);
        throw err;
      }
    },

    async ping() {
      const target = connected();
      await withTimeout(target.pub.checkExchange(exchange), confirmTimeoutMs, 'ping');
    },

    close() {
      closed ??= (async () => {
        closing = true;
        wake?.();
        await connecting?.catch(() => undefined);
        const target = live;
        live = null;
        if (target) {
          // Stop new deliveries, let running handlers settle their messages, then close.
          await withTimeout(
            Promise.allSettled(target.consumerTags.map((tag) => target.sub.cancel(tag))),
            confirmTimeoutMs,
            'cancel',
          ).catch(() => undefined);
        }
        await Promise.allSettled([...inFlight]);
        if (target) {
          await withTimeout(target.conn.close(), confirmTimeoutMs, 'close').catch(() =>
            socketOf(target.conn).destroy(new Error('RabbitMQ did not close in time')),
          );
        }
      })();
      return closed;
    },
  };
}

function parse(content: Buffer): CapcheckEvent | null {
  try {
    const value: unknown = JSON.parse(content.toString('utf8'));
    if (typeof value !== 'object' || value === null) return null;
    const { type, eventId } = value as Record<string, unknown>;
    if (typeof type !== 'string' || !knownTypes.has(type) || typeof eventId !== 'string') return null;
    return value as CapcheckEvent;
  } catch {
    return null;
  }
}

/** Resolves when the broker confirms the message; rejects on a nack, a closed channel, or no answer in time. */
function confirmed(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  properties: Options.Publish,
): Promise<void> {
  const confirm = new Promise<void>((resolve, reject) => {
    channel.publish(exchange, routingKey, content, properties, (err: unknown) => (err ? reject(err) : resolve()));
  });
  return withTimeout(confirm, confirmTimeoutMs, 'publish confirm');
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from RabbitMQ within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** amqplib does not type the socket it keeps on the connection. */
function socketOf(conn: ChannelModel): Duplex {
  return (conn.connection as unknown as { stream: Duplex }).stream;
}
