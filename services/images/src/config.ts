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
  ...decodeLimitsConfigShape,
};

export type ImagesConfig = z.output<z.ZodObject<typeof imagesConfigShape>>;
