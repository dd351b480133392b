import { Counter, Histogram, type Metrics } from '@capcheck/shared';
import type { ImagesTelemetry } from './domain/ports';

export function promTelemetry(metrics: Metrics): ImagesTelemetry {
  const registers = [metrics.registry];
  const uploads = new Counter({
    name: 'capcheck_image_uploads_total',
    help: 'Image uploads by outcome and detected format',
    labelNames: ['outcome', 'format'] as const,
    registers,
  });
  const uploadSeconds = new Histogram({
    name: 'capcheck_image_upload_duration_seconds',
    help: 'Time to check, store and record an upload (after the body was read)',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const bytesStored = new Counter({
    name: 'capcheck_image_blob_bytes_written_total',
    help: 'Bytes written to the blob store (identical uploads are stored once)',
    registers,
  });
  const events = new Counter({
    name: 'capcheck_events_published_total',
    help: 'Events published, by type and outcome (ok or failed)',
    labelNames: ['type', 'outcome'] as const,
    registers,
  });
  return {
    upload(outcome, format, seconds) {
      uploads.inc({ outcome, format });
      uploadSeconds.observe({ outcome }, seconds);
    },
    blobBytesWritten: (bytes) => bytesStored.inc(bytes),
    eventPublished: (type, ok) => events.inc({ type, outcome: ok ? 'ok' : 'failed' }),
  };
}
