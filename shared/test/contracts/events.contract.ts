import { randomUUID } from 'node:crypto';
import type {
  CapcheckEvent,
  DeadLetterObserver,
  DeadLetterReason,
  EventBus,
  EventType,
  HandlerOutcome,
  ImageDeleted,
  ImageId,
  ImageUploaded,
  UserId,
} from '@capcheck/shared';
import { waitFor } from '../../../test-support/poll';

export interface EventsHarness<B extends EventBus> {
  /** A new bus that reports what it dead-letters; the suite shares one and opens more only to close them. */
  open(onDeadLetter?: DeadLetterObserver): Promise<B>;
  /** Every event dead-lettered on `queue` so far. */
  deadLetters(bus: B, queue: string): Promise<CapcheckEvent[]>;
  /** Removes what the suite's queues left on a shared broker, after every bus is closed. */
  cleanup(queues: string[]): Promise<void>;
}

export const uploaded = (): ImageUploaded => ({
  type: 'image.uploaded',
  eventId: randomUUID(),
  imageId: randomUUID() as ImageId,
  ownerId: randomUUID() as UserId,
  sha256: 'a'.repeat(64),
  objectKey: `images/${randomUUID()}`,
  format: 'png',
  createdAt: new Date().toISOString(),
});

export const deleted = (): ImageDeleted => ({
  type: 'image.deleted',
  eventId: randomUUID(),
  imageId: randomUUID() as ImageId,
  ownerId: randomUUID() as UserId,
  sha256: 'b'.repeat(64),
  lastCopy: true,
});

/** What a handler received, with a promise for "at least n so far" bounded by a deadline. */
export function inbox() {
  const events: CapcheckEvent[] = [];
  const waiters: { ready: () => boolean; resolve: () => void }[] = [];
  const when = async (ready: () => boolean, what: string, ms = 10_000): Promise<void> => {
    if (ready()) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => waiters.push({ ready, resolve })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`expected ${what} within ${ms} ms; got ${events.length}`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  };
  return {
    events,
    ids: () => events.map((e) => e.eventId),
    push(event: CapcheckEvent) {
      events.push(event);
      for (const w of waiters.filter((w) => w.ready())) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
    until: (n: number, ms?: number) => when(() => events.length >= n, `${n} events`, ms),
    untilSeen: (eventId: string, ms?: number) =>
      when(() => events.some((e) => e.eventId === eventId), `event ${eventId}`, ms),
  };
}

export function eventsContract<B extends EventBus>(harness: EventsHarness<B>): void {
  let bus: B;
  const opened: B[] = [];
  const reported: { queue: string; reason: DeadLetterReason }[] = [];
  const open = async () => {
    const next = await harness.open((queue, reason) => reported.push({ queue, reason }));
    opened.push(next);
    return next;
  };
  const queues: string[] = [];
  // Unique queue names: the broker may be shared with other runs and keeps durable queues.
  const queue = (tag: string) => {
    const name = `contract.${tag}.${randomUUID()}`;
    queues.push(name);
    return name;
  };
  const subscribe = async (
    name: string,
    types: EventType[],
    handle: (event: CapcheckEvent) => Promise<HandlerOutcome | void>,
    maxAttempts?: number,
  ) => bus.subscribe({ queue: name, types, handle, maxAttempts });

  beforeAll(async () => {
    bus = await open();
  });
  // Even after a failed test: a bus left open could re-declare the queues being cleaned up.
  afterAll(async () => {
    await Promise.all(opened.map((b) => b.close()));
    await harness.cleanup(queues);
  });

  test('ping answers', async () => {
    await expect(bus.ping()).resolves.toBeUndefined();
  });

  test('an event reaches a subscriber of its type and not one of another type', async () => {
    const forUploads = inbox();
    const forDeletes = inbox();
    await subscribe(queue('uploads'), ['image.uploaded'], async (e) => forUploads.push(e));
    await subscribe(queue('deletes'), ['image.deleted'], async (e) => forDeletes.push(e));
    const event = uploaded();
    await bus.publish(event);
    // The marker is published after the event; had the event been routed to this queue, it would be first.
    const marker = deleted();
    await bus.publish(marker);
    await forUploads.until(1);
    await forDeletes.until(1);
    expect(forUploads.events).toEqual([event]);
    expect(forDeletes.events).toEqual([marker]);
  });

  test('each queue gets its own copy, which its handler cannot change for anyone else', async () => {
    const first = inbox();
    const second = inbox();
    await subscribe(queue('copy-a'), ['image.uploaded'], async (e) => {
      first.push(structuredClone(e));
      (e as ImageUploaded).objectKey = 'mutated';
    });
    await subscribe(queue('copy-b'), ['image.uploaded'], async (e) => second.push(e));
    const event = uploaded();
    const original = structuredClone(event);
    await bus.publish(event);
    await first.until(1);
    await second.until(1);
    expect(first.events).toEqual([original]);
    expect(second.events).toEqual([original]);
    expect(event).toEqual(original);
  });

  test('two consumers on one queue share its messages: each is handled once in total', async () => {
    const name = queue('shared');
    const a = inbox();
    const b = inbox();
    const both = inbox();
    await subscribe(name, ['image.uploaded'], async (e) => (a.push(e), both.push(e)));
    await subscribe(name, ['image.uploaded'], async (e) => (b.push(e), both.push(e)));
    const events = Array.from({ length: 10 }, uploaded);
    for (const e of events) await bus.publish(e);
    await both.until(10);
    expect(both.ids().sort()).toEqual(events.map((e) => e.eventId).sort());
    expect(a.events.length).toBeGreaterThan(0);
    expect(b.events.length).toBeGreaterThan(0);
  });

  test('an acked message is not delivered again', async () => {
    const seen = inbox();
    await subscribe(queue('ack'), ['image.uploaded', 'image.deleted'], async (e) => {
      seen.push(e);
      return 'ack';
    });
    const event = uploaded();
    await bus.publish(event);
    await seen.until(1);
    // A redelivery would reach the queue before a marker published after it.
    const marker = deleted();
    await bus.publish(marker);
    await seen.until(2);
    expect(seen.ids()).toEqual([event.eventId, marker.eventId]);
  });

  test('retry and a throw both redeliver; success stops there', async () => {
    const name = queue('retry');
    const seen = inbox();
    const outcomes: (() => Promise<HandlerOutcome>)[] = [
      async () => 'retry',
      async () => {
        throw new Error('transient failure (expected by the test)');
      },
      async () => 'ack',
    ];
    await subscribe(name, ['image.uploaded', 'image.deleted'], async (e) => {
      seen.push(e);
      return e.type === 'image.uploaded' ? outcomes[seen.events.length - 1]!() : 'ack';
    });
    const event = uploaded();
    await bus.publish(event);
    await seen.until(3);
    const marker = deleted();
    await bus.publish(marker);
    await seen.until(4);
    expect(seen.ids()).toEqual([event.eventId, event.eventId, event.eventId, marker.eventId]);
    expect(seen.events[2]).toEqual(event);
    expect(await harness.deadLetters(bus, name)).toEqual([]);
  });

  test('a handler that always fails: the event is dead-lettered after maxAttempts tries', async () => {
    const name = queue('dead');
    const seen = inbox();
    await subscribe(
      name,
      ['image.uploaded'],
      async (e) => {
        seen.push(e);
        if (seen.events.length % 2) return 'retry';
        throw new Error('permanent failure (expected by the test)');
      },
      3,
    );
    const event = uploaded();
    await bus.publish(event);
    await seen.until(3);
    const dead = await waitFor('the dead letter', async () => {
      const found = await harness.deadLetters(bus, name);
      return found.length > 0 ? found : undefined;
    });
    expect(dead).toEqual([event]);
    expect(seen.ids()).toEqual([event.eventId, event.eventId, event.eventId]);
    expect(reported.filter((r) => r.queue === name)).toEqual([{ queue: name, reason: 'attempts_exhausted' }]);
  });

  test('the same eventId published twice is delivered twice; an idempotent consumer acts once', async () => {
    // At-least-once: the bus may deliver an event again, so consumers remember eventIds they handled.
    const deliveries = inbox();
    const handled = new Set<string>();
    const effects: string[] = [];
    await subscribe(queue('dupes'), ['image.uploaded'], async (e) => {
      deliveries.push(e);
      if (handled.has(e.eventId)) return 'ack';
      handled.add(e.eventId);
      effects.push(e.eventId);
    });
    const event = uploaded();
    await bus.publish(event);
    await bus.publish(event);
    await deliveries.until(2);
    expect(deliveries.ids()).toEqual([event.eventId, event.eventId]);
    expect(effects).toEqual([event.eventId]);
  });

  test('publish resolves once the bus holds the event, which is then delivered', async () => {
    const seen = inbox();
    await subscribe(queue('held'), ['image.deleted'], async (e) => seen.push(e));
    const event = deleted();
    await expect(bus.publish(event)).resolves.toBeUndefined();
    await seen.until(1);
    expect(seen.events).toEqual([event]);
  });

  test('close() waits for running handlers, and a closed bus refuses to publish', async () => {
    const other = await open();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    await other.subscribe({
      queue: queue('close'),
      types: ['image.uploaded'],
      handle: async () => {
        started();
        await gate;
        order.push('handler finished');
      },
    });
    await other.publish(uploaded());
    await running;
    const closed = other.close().then(() => order.push('closed'));
    // "Not before the handler" has no event to wait on: give close() a moment to (wrongly) finish.
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual([]);
    release();
    await closed;
    expect(order).toEqual(['handler finished', 'closed']);
    await expect(other.publish(uploaded())).rejects.toThrow();
  });
}
