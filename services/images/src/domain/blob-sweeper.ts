import { blobKeyForSha256, type BlobStore, type Logger } from '@capcheck/shared';
import { removeUnreferencedBlob } from './blob-removal';
import type { ImageRepository } from './ports';

export interface SweepReport {
  /** Bytes some record points at whose blob is missing: those images' content answers 404. */
  recordsWithoutBlob: number;
  /** Blobs no record points at, left after this sweep (a failure between a blob operation and its record's leaves one). */
  orphanBlobs: number;
  /** Orphans removed by this sweep (only when removal is on, and older than the grace period). */
  orphanBlobsRemoved: number;
}

export interface BlobSweeperDeps {
  images: ImageRepository;
  blobs: BlobStore;
  logger: Logger;
  clock: { now(): Date };
}

export interface BlobSweepOptions {
  /** Remove orphans last written longer ago than this; null reports them only. */
  removeOrphansOlderThanMs: number | null;
}

/**
 * Compares the records with the blob store: what the reference counts should make impossible (a
 * record without its blob) and what a crash can leave (a blob without records). It reports both;
 * removing orphans is optional, after a grace period, since an upload writes its blob before its
 * record and a young orphan may be an upload in progress.
 */
export class BlobSweeper {
  constructor(
    private readonly deps: BlobSweeperDeps,
    private readonly options: BlobSweepOptions,
  ) {}

  async sweep(): Promise<SweepReport> {
    const recordsWithoutBlob = await this.countRecordsWithoutBlob();
    const { orphanBlobs, orphanBlobsRemoved } = await this.sweepOrphans();
    const report = { recordsWithoutBlob, orphanBlobs, orphanBlobsRemoved };
    const level = recordsWithoutBlob > 0 ? 'error' : orphanBlobs > 0 ? 'warn' : 'info';
    this.deps.logger[level](report, 'blob sweep done');
    return report;
  }

  private async countRecordsWithoutBlob(): Promise<number> {
    const missing: string[] = [];
    for await (const sha256 of this.deps.images.referencedSha256s())
      if (!(await this.deps.blobs.exists(blobKeyForSha256(sha256)))) missing.push(sha256);
    // A second look at the few found: a delete racing an upload of the same bytes has the blob away
    // for a moment before it puts it back, and a record deleted since then no longer counts.
    let stillMissing = 0;
    for (const sha256 of missing) {
      if (await this.deps.blobs.exists(blobKeyForSha256(sha256))) continue;
      if ((await this.deps.images.countBySha256(sha256)) === 0) continue;
      stillMissing++;
      this.deps.logger.error({ sha256 }, 'image records without their blob');
    }
    return stillMissing;
  }

  private async sweepOrphans(): Promise<{ orphanBlobs: number; orphanBlobsRemoved: number }> {
    const { removeOrphansOlderThanMs } = this.options;
    const removeBefore =
      removeOrphansOlderThanMs === null ? null : this.deps.clock.now().getTime() - removeOrphansOlderThanMs;
    let orphanBlobs = 0;
    let orphanBlobsRemoved = 0;
    for await (const { key, modifiedAt } of this.deps.blobs.list()) {
      const sha256 = key.slice('sha256/'.length);
      if ((await this.deps.images.countBySha256(sha256)) > 0) continue;
      const removable =
        removeBefore !== null &&
        modifiedAt.getTime() <= removeBefore &&
        // The count too: one left too high by a crash (see the MongoDB adapter) keeps its blob.
        (await this.deps.images.referencesTo(sha256)) === 0;
      if (removable && (await removeUnreferencedBlob(this.deps, sha256))) orphanBlobsRemoved++;
      else orphanBlobs++;
    }
    return { orphanBlobs, orphanBlobsRemoved };
  }
}

/** Sweeps every `intervalMs` (the first one after one interval); returns a stop function. */
export function scheduleBlobSweeps(
  sweeper: BlobSweeper,
  intervalMs: number,
  onReport: (report: SweepReport) => void,
  logger: Logger,
): () => Promise<void> {
  let running: Promise<void> | null = null;
  const run = () => {
    if (running) return; // a slow sweep is never overlapped by the next
    running = sweeper
      .sweep()
      .then(onReport, (err: unknown) => logger.warn({ err }, 'blob sweep failed'))
      .finally(() => (running = null));
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
