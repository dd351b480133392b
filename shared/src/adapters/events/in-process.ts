import type {
  CapcheckEvent,
  DeadLetterObserver,
  EventBus,
  EventType,
  HandlerOutcome,
  Subscription,
} from '../../ports/events';

export interface InProcessEventBusOptions {
  /** Where handler errors go; the bus itself has no logger. */
  onError?: (err: unknown) => void;
  onDeadLetter?: DeadLetterObserver;
}

export interface InProcessEventBus extends EventBus {
  /** Events that used up their attempts on `queue`, oldest first (copies, for tests and inspection). */
  deadLetters(queue: string): CapcheckEvent[];
}

interface Queue {
  name: string;
  /** The union of its subscriptions' types, as RabbitMQ would bind one queue. */
  types: Set<EventType>;
  consumers: Subscription[];
  turn: number;
  dead: string[];
}

/**
 * The embedded bus for the single local process: RabbitMQ's semantics (a copy per queue, competing
 * consumers within a queue, retries, a dead-letter list) without its durability — whatever is queued
 * is gone when the process stops. Like RabbitMQ, events for a queue nobody has subscribed yet are dropped.
 */
export function createInProcessEventBus(options: InProcessEventBusOptions = {}): InProcessEventBus {
  const queues = new Map<string, Queue>();
  const inFlight = new Set<Promise<void>>();
  let closed = false;

  const report = (err: unknown) => {
    try {
      options.onError?.(err);
    } catch {
      // A failing error reporter must not stop delivery.
    }
  };

  // The event travels as JSON, so every delivery is a fresh copy no handler can share or mutate,
  // and delivery never runs inside the publisher's call stack.
  const enqueue = (queue: Queue, body: string, attempt: number) => {
    setImmediate(() => {
      if (closed) return;
      const consumer = queue.consumers[queue.turn++ % queue.consumers.length];
      if (!consumer) return;
      const run = deliver(queue, consumer, body, attempt).finally(() => inFlight.delete(run));
      inFlight.add(run);
    });
  };

  const deliver = async (queue: Queue, consumer: Subscription, body: string, attempt: number) => {
    let outcome: HandlerOutcome | void;
    try {
      outcome = await consumer.handle(JSON.parse(body) as CapcheckEvent);
    } catch (err) {
      report(err);
      outcome = 'retry';
    }
    if (outcome !== 'retry') return;
    if (attempt < (consumer.maxAttempts ?? 5)) {
      enqueue(queue, body, attempt + 1);
      return;
    }
    queue.dead.push(body);
    options.onDeadLetter?.(queue.name, 'attempts_exhausted');
  };

  return {
    async publish(event) {
      if (closed) throw new Error('event bus is closed');
      const body = JSON.stringify(event);
      for (const queue of queues.values()) if (queue.types.has(event.type)) enqueue(queue, body, 1);
    },

    async subscribe(subscription) {
      if (closed) throw new Error('event bus is closed');
      let queue = queues.get(subscription.queue);
      if (!queue) {
        queue = { name: subscription.queue, types: new Set(), consumers: [], turn: 0, dead: [] };
        queues.set(subscription.queue, queue);
      }
      for (const type of subscription.types) queue.types.add(type);
      queue.consumers.push(subscription);
    },

    deadLetters(queue) {
      return (queues.get(queue)?.dead ?? []).map((body) => JSON.parse(body) as CapcheckEvent);
    },

    async ping() {
      if (closed) throw new Error('event bus is closed');
    },

    async close() {
      closed = true;
      await Promise.allSettled([...inFlight]);
    },
  };
}
