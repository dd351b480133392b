import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import pino from 'pino';
import { createRabbitMqEventBus, type CapcheckEvent, type DeadLetterObserver, type EventBus } from '@capcheck/shared';
import { deleted, eventsContract, inbox, uploaded } from './events.contract';
import { waitFor } from '../../../test-support/poll';
import { suiteFor, tcpUnreachable } from '../../../test-support/http';
import { tcpProxy } from '../../../test-support/tcp-proxy';

const url = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A logger whose lines the test can read instead of printing. */
function capturedLogger() {
  const lines: { msg: string; level: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { msg: string; level: number });
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

suiteFor(`events port: RabbitMQ adapter (${url})`, 'rabbitmq', tcpUnreachable(url), () => {
  // A private exchange per run: the suite never reaches, nor is reached by, real consumers on the broker.
  const exchange = `capcheck-test.${process.pid}.${randomUUID()}`;
  let admin: ChannelModel;
  let channel: Channel;
  // Every bus is closed before queues are deleted, even after a failed test: a live bus would re-declare them.
  const buses: EventBus[] = [];
  const open = async (logger = capturedLogger().logger, busUrl = url, onDeadLetter?: DeadLetterObserver) => {
    const bus = await createRabbitMqEventBus({ url: busUrl, exchange, logger, onDeadLetter });
    buses.push(bus);
    return bus;
  };
  const deadLetters = new Map<string, CapcheckEvent[]>();
  /** Drains `<queue>.dead` with a channel of the test's own, remembering what it found. */
  const readDeadQueue = async (queue: string) => {
    const found = deadLetters.get(queue) ?? [];
    deadLetters.set(queue, found);
    for (let msg = await channel.get(`${queue}.dead`, { noAck: true }); msg;) {
      found.push(JSON.parse(msg.content.toString()) as CapcheckEvent);
      msg = await channel.get(`${queue}.dead`, { noAck: true });
    }
    return found;
  };
  const deleteQueues = async (queues: string[]) => {
    for (const q of queues) {
      await channel.deleteQueue(q);
      await channel.deleteQueue(`${q}.dead`);
    }
  };

  beforeAll(async () => {
    admin = await connect(url);
    channel = await admin.createChannel();
  });
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await channel.deleteExchange(exchange);
    await channel.deleteExchange(`${exchange}.dlx`);
    await admin.close();
  });

  describe('contract', () => {
    eventsContract<EventBus>({
      open: (onDeadLetter) => open(undefined, url, onDeadLetter),
      deadLetters: async (_bus, queue) => readDeadQueue(queue),
      cleanup: deleteQueues,
    });
  });

  describe('RabbitMQ specifics', () => {
    const queues: string[] = [];
    const queue = (tag: string) => {
      const name = `rabbit.${tag}.${randomUUID()}`;
      queues.push(name);
      return name;
    };
    afterAll(async () => {
      await Promise.all(buses.map((bus) => bus.close()));
      await deleteQueues(queues);
    });

    test('publish resolves once the broker holds it, persistent and labelled', async () => {
      const bus = await open();
      const probe = queue('probe');
      // A queue of the test's own, so the message can be read straight after publish resolves.
      await channel.assertQueue(probe, { durable: true });
      await channel.assertQueue(`${probe}.dead`, { durable: true });
      await channel.bindQueue(probe, exchange, 'image.deleted');
      const event = deleted();
      await bus.publish(event);
      const msg = await channel.get(probe, { noAck: true });
      await bus.close();
      expect(msg).not.toBe(false);
      if (!msg) return;
      expect(JSON.parse(msg.content.toString())).toEqual(event);
      expect(msg.fields.routingKey).toBe('image.deleted');
      expect(msg.properties).toMatchObject({
        deliveryMode: 2,
        contentType: 'application/json',
        messageId: event.eventId,
        type: 'image.deleted',
      });
    });

    test('a poison message goes straight to the dead-letter queue, unhandled', async () => {
      const reported: string[] = [];
      const bus = await open(undefined, url, (q, reason) => reported.push(`${q}:${reason}`));
      const name = queue('poison');
      const seen = inbox();
      await bus.subscribe({ queue: name, types: ['image.uploaded'], handle: async (e) => seen.push(e) });
      channel.publish(exchange, 'image.uploaded', Buffer.from('not json'));
      channel.publish(exchange, 'image.uploaded', Buffer.from(JSON.stringify({ type: 'image.exploded' })));
      const marker = uploaded();
      await bus.publish(marker);
      await seen.until(1);
      const dead: string[] = [];
      await waitFor('both poison messages in the dead-letter queue', async () => {
        const msg = await channel.get(`${name}.dead`, { noAck: true });
        if (msg) dead.push(msg.content.toString());
        return dead.length === 2 ? dead : undefined;
      });
      await bus.close();
      expect(dead).toEqual(['not json', '{"type":"image.exploded"}']);
      expect(seen.events).toEqual([marker]);
      expect(reported).toEqual([`${name}:unreadable`, `${name}:unreadable`]);
    });

    test('after the connection is lost it reconnects, and the subscription receives new events', async () => {
      const { logger, lines } = capturedLogger();
      // Through a proxy of the test's own, whose line it can cut.
      const proxy = await tcpProxy(url);
      const bus = await open(logger, proxy.url);
      const seen = inbox();
      await bus.subscribe({ queue: queue('recover'), types: ['image.uploaded'], handle: async (e) => seen.push(e) });
      const before = uploaded();
      await bus.publish(before);
      await seen.untilSeen(before.eventId);

      proxy.dropConnections();
      // Publishing fails until the adapter has reconnected and re-subscribed; retry up to a deadline.
      const after = uploaded();
      await waitFor('a publish to succeed after reconnecting', () => bus.publish(after).then(() => true), {
        timeoutMs: 15_000,
        ignoreErrors: true,
      });
      await seen.untilSeen(after.eventId);
      await expect(bus.ping()).resolves.toBeUndefined();
      await bus.close();
      await proxy.close();
      expect(lines.some((l) => l.msg.includes('reconnecting'))).toBe(true);
      expect(lines.some((l) => l.msg === 'RabbitMQ reconnected')).toBe(true);
    });

    test('with no broker, it starts at once, keeps trying, and refuses to publish or ping', async () => {
      const started = Date.now();
      const bus = await open(undefined, 'amqp://guest:guest@127.0.0.1:1');
      expect(Date.now() - started).toBeLessThan(3000);
      const refused = Date.now();
      await expect(bus.publish(uploaded())).rejects.toThrow(/not connected/);
      await expect(bus.ping()).rejects.toThrow(/not connected/);
      expect(Date.now() - refused).toBeLessThan(1000);
      // Subscriptions are kept for when the broker answers.
      await expect(
        bus.subscribe({ queue: queue('later'), types: ['image.uploaded'], handle: async () => undefined }),
      ).resolves.toBeUndefined();
      await bus.close();
      await expect(bus.publish(uploaded())).rejects.toThrow(/closed/);
    });
  });
});
