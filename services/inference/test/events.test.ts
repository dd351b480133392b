import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { createInProcessEventBus, createLogger, createRabbitMqEventBus, type EventBus } from '@capcheck/shared';
import type { ModelManifest } from '@capcheck/inference';
import { startInference, type InferenceSystem } from '../../../test-support/services';
import { suiteFor, tcpUnreachable, uploadFile } from '../../../test-support/http';
import { waitFor } from '../../../test-support/poll';
import { samplePicture, servedModel } from '../../../test-support/models';

const logger = createLogger({ service: 'test', level: 'silent' });
const sample = samplePicture('closed-1.jpg');
let served: ModelManifest;
beforeAll(async () => {
  served = await servedModel();
});

/** Upload → the consumer precomputes → the first GET is already cached; delete → the verdict goes. */
async function precomputeAndForget(sys: InferenceSystem) {
  const user = await sys.signUp();
  // Unique bytes: a JPEG comment makes this upload's sha256 new to the cache.
  const bytes = Buffer.concat([
    sample.subarray(0, 2),
    Buffer.from([0xff, 0xfe, 0x00, 0x26]),
    Buffer.from(randomUUID()),
    sample.subarray(2),
  ]);
  const uploaded = await uploadFile(sys.images.baseUrl, user.accessToken, { bytes });
  expect(uploaded.status).toBe(201);
  const sha256 = String(uploaded.body.sha256);
  const stored = await waitFor('the precomputed prediction', () =>
    sys.store.predictions.find(sha256, 'bottle-state', served.version),
  );
  expect(stored.label).toBe('closed');
  const res = await sys.api.get(`/predict/${String(uploaded.body.id)}`, { token: user.accessToken });
  expect(res.body).toMatchObject({ label: 'closed', cached: true });

  await sys.images.api.delete(`/images/${String(uploaded.body.id)}`, { token: user.accessToken });
  await waitFor('the prediction to be forgotten', async () =>
    (await sys.store.predictions.find(sha256, 'bottle-state', served.version)) === null ? true : undefined,
  );
}

test('in-process events: precompute on upload, forget on delete', async () => {
  const sys = await startInference({ INFERENCE_PRECOMPUTE: 'true' });
  try {
    // Each consumer's dead-letter count exists from the start, so an alert sees its first step.
    const metrics = await (await fetch(`${sys.baseUrl}/metrics`)).text();
    for (const queue of ['inference.precompute', 'inference.forget'])
      expect(metrics).toContain(`capcheck_events_dead_lettered_total{queue="${queue}",reason="attempts_exhausted"} 0`);
    await precomputeAndForget(sys);
  } finally {
    await sys.close();
  }
});

test.each([
  ['true', ['inference.precompute', 'inference.forget']],
  ['false', ['inference.forget']],
])('INFERENCE_PRECOMPUTE=%s subscribes %j', async (flag, queues) => {
  const subscribed: string[] = [];
  const bus = createInProcessEventBus();
  const recording: EventBus = { ...bus, subscribe: async (s) => void subscribed.push(s.queue) };
  const sys = await startInference({ INFERENCE_PRECOMPUTE: flag }, { events: recording });
  try {
    expect(subscribed).toEqual(queues);
  } finally {
    await sys.close();
  }
});

test('a deleted image whose bytes another image shares keeps its verdict', async () => {
  const sys = await startInference({ INFERENCE_PRECOMPUTE: 'true' });
  try {
    const a = await sys.signUp();
    const b = await sys.signUp();
    const first = await uploadFile(sys.images.baseUrl, a.accessToken, { bytes: sample });
    const second = await uploadFile(sys.images.baseUrl, b.accessToken, { bytes: sample });
    const sha256 = String(first.body.sha256);
    await waitFor('the precomputed prediction', () =>
      sys.store.predictions.find(sha256, 'bottle-state', served.version),
    );
    await sys.images.api.delete(`/images/${String(first.body.id)}`, { token: a.accessToken });
    // Handle that delete event as the consumer does (whenever it gets to it): the twin keeps the verdict.
    const handled = await sys.inference.domain.forget({
      type: 'image.deleted',
      eventId: randomUUID(),
      imageId: first.body.id as never,
      ownerId: a.id,
      sha256,
      lastCopy: false,
    });
    expect(handled).toBe('ack');
    expect(await sys.store.predictions.find(sha256, 'bottle-state', served.version)).not.toBeNull();
    const res = await sys.api.get(`/predict/${String(second.body.id)}`, { token: b.accessToken });
    expect(res.body).toMatchObject({ cached: true });
  } finally {
    await sys.close();
  }
});

const url = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
suiteFor(`inference with RabbitMQ (${url})`, 'rabbitmq', tcpUnreachable(url), () => {
  test('precompute and forget through the broker', async () => {
    const events: EventBus = await createRabbitMqEventBus({ url, logger });
    const prefix = `inference-test-${randomUUID()}`;
    const sys = await startInference({ INFERENCE_PRECOMPUTE: 'true', INFERENCE_QUEUE_PREFIX: prefix }, { events });
    try {
      await precomputeAndForget(sys);
    } finally {
      await sys.close();
      const conn = await connect(url);
      const channel = await conn.createChannel();
      for (const q of ['precompute', 'forget']) {
        await channel.deleteQueue(`${prefix}.${q}`);
        await channel.deleteQueue(`${prefix}.${q}.dead`);
      }
      await conn.close();
    }
  });
});
