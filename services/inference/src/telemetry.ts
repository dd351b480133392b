import { Counter, Gauge, Histogram, type Metrics } from '@capcheck/shared';
import type { RuntimeTelemetry } from './data-access/model-runtime';
import type { AdaptationsDomainDeps } from './domain/adaptations';
import type { FeedbackTelemetry, InferenceTelemetry } from './domain/ports';

/**
 * Every feedback series of a served version, at 0 from the start: Prometheus' increase() cannot count
 * the first answer of a series it first scrapes with that answer in it.
 */
export interface FeedbackSeries {
  startFeedbackSeries(labels: readonly string[], modelVersion: string): void;
}

/** `readyMaxQueue` is exported too, so an alert compares each replica's queue with its own threshold. */
export function promTelemetry(
  metrics: Metrics,
  readyMaxQueue: number,
): InferenceTelemetry & RuntimeTelemetry & FeedbackTelemetry & FeedbackSeries & AdaptationsDomainDeps['telemetry'] {
  const registers = [metrics.registry];
  const predictions = new Counter({
    name: 'capcheck_predictions_total',
    help: 'Predictions answered, by label, model, certainty (calibrated confidence over the threshold) and cache',
    labelNames: ['label', 'model', 'certain', 'cached'] as const,
    registers,
  });
  const confidence = new Histogram({
    name: 'capcheck_prediction_confidence',
    help: 'Confidence of answered predictions',
    labelNames: ['label'] as const,
    buckets: [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1],
    registers,
  });
  const cache = new Counter({
    name: 'capcheck_prediction_cache_total',
    help: 'Prediction cache lookups by result (hit or miss)',
    labelNames: ['result'] as const,
    registers,
  });
  const inference = new Histogram({
    name: 'capcheck_inference_duration_seconds',
    help: 'Time to preprocess and run the model for one image, queueing included',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const batchSize = new Histogram({
    name: 'capcheck_inference_batch_size',
    help: 'Images per session.run',
    buckets: [1, 2, 4, 8, 16, 32],
    registers,
  });
  const batchSeconds = new Histogram({
    name: 'capcheck_inference_batch_duration_seconds',
    help: 'Time of one session.run in a worker, by batch',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers,
  });
  const shadow = new Counter({
    name: 'capcheck_shadow_predictions_total',
    help: "A shadow candidate's answers, by its version and whether it agreed with the current version's label",
    labelNames: ['model_version', 'agreed'] as const,
    registers,
  });
  const served = new Gauge({
    name: 'capcheck_model_version_served',
    help: "The model versions this replica serves (1): role current, or the candidate's mode (shadow, canary)",
    labelNames: ['model', 'version', 'role'] as const,
    registers,
  });
  const queueDepth = new Gauge({
    name: 'capcheck_inference_queue_depth',
    help: 'Images waiting for a free inference worker',
    registers,
  });
  new Gauge({
    name: 'capcheck_inference_queue_ready_max',
    help: 'Queue depth above which /readyz reports saturation (INFERENCE_READY_MAX_QUEUE)',
    registers,
  }).set(readyMaxQueue);
  // Bounded: the label is one of the served model's labels (others are refused), the version one of
  // the few served. Agreement on feedback by version is sum(agreed="true") / sum(all), per version.
  const feedback = new Counter({
    name: 'capcheck_feedback_total',
    help: "Owners' answers on what an image shows, by label, whether the served model agreed, and its version",
    labelNames: ['label', 'agreed', 'model_version'] as const,
    registers,
  });
  const adaptations = new Counter({
    name: 'capcheck_adaptations_total',
    help: 'Adaptations of the served model to the labelled feedback, by outcome (succeeded or failed)',
    labelNames: ['status'] as const,
    registers,
  });
  return {
    adaptation: (status) => adaptations.inc({ status }),
    cache: (result) => cache.inc({ result }),
    prediction({ label, model, confidence: p, certain, cached }) {
      predictions.inc({ label, model, certain: String(certain), cached: String(cached) });
      confidence.observe({ label }, p);
    },
    inference: (seconds) => inference.observe(seconds),
    shadow: ({ modelVersion, agreed }) => shadow.inc({ model_version: modelVersion, agreed: String(agreed) }),
    batch(size, seconds) {
      batchSize.observe(size);
      batchSeconds.observe(seconds);
    },
    queueDepth: (depth) => queueDepth.set(depth),
    feedback: ({ label, agreed, modelVersion }) =>
      feedback.inc({ label, agreed: String(agreed), model_version: modelVersion }),
    startFeedbackSeries(labels, modelVersion) {
      for (const label of labels)
        for (const agreed of ['true', 'false']) feedback.inc({ label, agreed, model_version: modelVersion }, 0);
    },
    serving(model, target) {
      served.reset();
      served.set({ model, version: target.current, role: 'current' }, 1);
      if (target.candidate) served.set({ model, version: target.candidate.version, role: target.candidate.mode }, 1);
    },
  };
}
