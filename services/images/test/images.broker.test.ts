import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { createLogger, createRabbitMqEventBus, type CapcheckEvent } from '@capcheck/shared';
import { startImages } from '../../../test-support/services';
import { suiteFor, tcpUnreachable, uploadFile } from '../../../test-support/http';
import { jpeg } from '../../../test-support/images';

const logger = createLogger({ service: 'test', level: 'silent' });

test('with the broker unreachable, uploads and deletes still succeed; the failure is counted', async () => {
  const events = await createRabbitMqEventBus({ url: 'amqp://guest:guest@127.0.0.1:1', logger });
  const sys = await startImages({}, { events });
  try {
    const user = await sys.signUp();
    const res = await uploadFile(sys.baseUrl, user.accessToken, { bytes: await jpeg() });
    expect(res.status).toBe(201);
    expect((await sys.api.get(`/images/${String(res.body.id)}`, { token: user.accessToken })).status).toBe(200);
    expect((await sys.api.delete(`/images/${String(res.body.id)}`, { token: user.accessToken })).status).toBe(204);
    const metrics = await fetch(`${sys.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/capcheck_events_published_total\{type="image.uploaded",outcome="failed"\} 1/);
    expect(metrics).toMatch(/capcheck_events_published_total\{type="image.deleted",outcome="failed"\} 1/);
  } finally {
    await sys.close();
  }
});

const url = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
suiteFor(`images with RabbitMQ (${url})`, 'rabbitmq', tcpUnreachable(url), () => {
  test('an upload publishes image.uploaded through the broker to a subscribed queue', async () => {
    const events = await createRabbitMqEventBus({ url, logger });
    const sys = await startImages({}, { events });
    const queue = `images-test-${randomUUID()}`;
    try {
      let arrived!: (e: CapcheckEvent) => void;
      const first = new Promise<CapcheckEvent>((r) => (arrived = r));
      await events.subscribe({
        queue,
        types: ['image.uploaded'],
        handle: async (event) => arrived(event),
      });
      const user = await sys.signUp();
      const res = await uploadFile(sys.baseUrl, user.accessToken, { bytes: await jpeg() });
      expect(res.status).toBe(201);
      const event = await first;
      expect(event).toMatchObject({
        type: 'image.uploaded',
        imageId: res.body.id,
        ownerId: user.id,
        sha256: res.body.sha256,
      });
    } finally {
      await sys.close();
      const conn = await connect(url);
      const channel = await conn.createChannel();
      await channel.deleteQueue(queue);
      await channel.deleteQueue(`${queue}.dead`);
      await conn.close();
    }
  });
});
