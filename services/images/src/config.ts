import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { decodeLimitsConfigShape, setting } from '@capcheck/shared';

export const imagesConfigShape = {
  /** Where an upload's bytes go while they arrive, so a slow or stalled upload holds no memory. */
  UPLOAD_TMP_DIR: z.string().min(1).default(join(tmpdir(), 'capcheck-uploads')),
  /** Uploads in progress at once: per user (429 beyond) and per process (503 beyond), both with Retry-After. */
  MAX_CONCURRENT_UPLOADS_PER_USER: setting.positiveInt(4),
  MAX_CONCURRENT_UPLOADS: setting.positiveInt(32),
  /**
   * How often records and blobs are compared (capcheck_images_records_without_blob and
   * capcheck_images_orphan_blobs); 0 turns the sweeper off. Each sweep lists every blob and checks
   * every distinct image's blob, so it costs a request per blob on S3: hourly is plenty.
   */
  BLOB_SWEEP_INTERVAL_SECONDS: setting.nonNegativeInt(3600),
  /** Whether the sweeper removes blobs no record points at, once they are older than the grace period. */
  BLOB_SWEEP_REMOVE_ORPHANS: setting.boolean(false),
  /** An upload writes its blob just before its record: younger orphans may be uploads in progress. */
  BLOB_SWEEP_ORPHAN_GRACE_SECONDS: setting.positiveInt(86_400),
  ...decodeLimitsConfigShape,
};

export type ImagesConfig = z.output<z.ZodObject<typeof imagesConfigShape>>;
