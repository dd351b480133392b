import type { z } from 'zod';
import { setting } from '@capcheck/shared';

export const imagesConfigShape = {
  MAX_UPLOAD_BYTES: setting.positiveInt(10 * 1024 * 1024),
  MAX_IMAGE_PIXELS: setting.positiveInt(40_000_000),
};

export type ImagesConfig = z.output<z.ZodObject<typeof imagesConfigShape>>;
