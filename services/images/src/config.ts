import type { z } from 'zod';
import { decodeLimitsConfigShape, setting } from '@capcheck/shared';

export const imagesConfigShape = {
  MAX_UPLOAD_BYTES: setting.positiveInt(10 * 1024 * 1024),
  ...decodeLimitsConfigShape,
};

export type ImagesConfig = z.output<z.ZodObject<typeof imagesConfigShape>>;
