import sharp from 'sharp';
import { AppError, type ImageFormat } from '@capcheck/shared';
import type { DecodedImage, ImageDecoder } from '../domain/ports';

const corrupt = () => new AppError('unprocessable', 'corrupt_image', 'the image is corrupt or truncated');

/**
 * sharp (libvips) with limits: the header's pixel count is checked before any decoding (decompression
 * bombs), then the whole image is decoded once, shrunk on load, so truncated or corrupt data is refused.
 */
export function sharpDecoder(options: { maxPixels: number }): ImageDecoder {
  const input = { limitInputPixels: options.maxPixels, failOn: 'error' as const };
  return {
    async inspect(bytes: Buffer, expected: ImageFormat): Promise<DecodedImage> {
      let meta: sharp.Metadata;
      try {
        // Header only, nothing decoded: the limit is checked below so a bomb is named as one.
        meta = await sharp(bytes, { limitInputPixels: false }).metadata();
      } catch {
        throw corrupt();
      }
      const { width, height } = meta;
      if (meta.format !== expected || !width || !height) throw corrupt();
      if (width * height > options.maxPixels) {
        throw new AppError('unprocessable', 'too_many_pixels', `the image has more than ${options.maxPixels} pixels`);
      }
      try {
        await sharp(bytes, input).resize(64, 64, { fit: 'inside' }).raw().toBuffer();
      } catch {
        throw corrupt();
      }
      // EXIF orientations 5–8 turn the picture a quarter: the displayed width is the stored height.
      const quarterTurn = (meta.orientation ?? 1) >= 5;
      return { format: expected, width: quarterTurn ? height : width, height: quarterTurn ? width : height };
    },
  };
}
