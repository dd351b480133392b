import { createInProcessEventBus, type InProcessEventBus } from '@capcheck/shared';
import { eventsContract, inbox, uploaded } from './events.contract';

describe('events port: in-process adapter', () => {
  eventsContract<InProcessEventBus>({
    open: async (onDeadLetter) => createInProcessEventBus({ onDeadLetter }),
    deadLetters: async (bus, queue) => bus.deadLetters(queue),
    cleanup: async () => undefined,
  });
});

describe('in-process event bus', () => {
  test('delivers outside the publisher’s call stack', async () => {
    const bus = createInProcessEventBus();
    const seen = inbox();
    await bus.subscribe({ queue: 'q', types: ['image.uploaded'], handle: async (e) => seen.push(e) });
    const publishing = bus.publish(uploaded());
    expect(seen.events).toEqual([]);
    await publishing;
    await seen.until(1);
    await bus.close();
  });

  test('handler errors go to onError', async () => {
    const errors: unknown[] = [];
    const bus = createInProcessEventBus({ onError: (err) => errors.push(err) });
    const seen = inbox();
    const failure = new Error('handler failed (expected by the test)');
    await bus.subscribe({
      queue: 'q',
      types: ['image.uploaded'],
      maxAttempts: 2,
      handle: async (e) => {
        seen.push(e);
        throw failure;
      },
    });
    const event = uploaded();
    await bus.publish(event);
    await seen.until(2);
    await bus.close();
    expect(errors).toEqual([failure, failure]);
    expect(bus.deadLetters('q')).toEqual([event]);
  });

  test('a closed bus delivers nothing more and refuses subscriptions', async () => {
    const bus = createInProcessEventBus();
    const seen = inbox();
    await bus.subscribe({ queue: 'q', types: ['image.uploaded'], handle: async (e) => seen.push(e) });
    await bus.publish(uploaded());
    await bus.close();
    await new Promise((r) => setImmediate(r));
    expect(seen.events).toEqual([]);
    await expect(
      bus.subscribe({ queue: 'q', types: ['image.uploaded'], handle: async () => undefined }),
    ).rejects.toThrow();
  });
});
