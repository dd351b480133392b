import { Counter, Gauge, Histogram, type Metrics } from '@capcheck/shared';
import type { SweepReport } from './domain/blob-sweeper';
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

/** What each blob sweep found, as gauges (the state after the last sweep) and a counter of removals. */
export function promSweepReporter(metrics: Metrics): (report: SweepReport) => void {
  const registers = [metrics.registry];
  const recordsWithoutBlob = new Gauge({
    name: 'capcheck_images_records_without_blob',
    help: 'Distinct image bytes that records point at but the blob store lacks, at the last sweep (should be 0)',
    registers,
  });
  const orphanBlobs = new Gauge({
    name: 'capcheck_images_orphan_blobs',
    help: 'Blobs no image record points at, left after the last sweep',
    registers,
  });
  const removed = new Counter({
    name: 'capcheck_images_orphan_blobs_removed_total',
    help: 'Orphan blobs the sweeper removed',
    registers,
  });
  const lastSweep = new Gauge({
    name: 'capcheck_images_blob_sweep_timestamp_seconds',
    help: 'When the last blob sweep finished',
    registers,
  });
  return (report) => {
    recordsWithoutBlob.set(report.recordsWithoutBlob);
    orphanBlobs.set(report.orphanBlobs);
    removed.inc(report.orphanBlobsRemoved);
    lastSweep.set(Date.now() / 1000);
  };
}
