import sharp from 'sharp';
import { AppError } from '@capcheck/shared';
import type { ModelManifest } from '../domain/ports';

// sharp keeps recent operations in a cache (50 MB, 100 items by default) so that the same input asked
// again is cheaper. Predictions never ask twice (verdicts are cached by sha256 instead), so for them
// the cache only costs bookkeeping and memory on every picture.
sharp.cache(false);

/**
 * Bytes → the model's input, exactly as the training code prepared its pictures (see the manifest):
 * EXIF orientation applied, alpha flattened onto white, sRGB, resized with the manifest's fit and
 * background, raw RGB bytes. The same decode limits as the images service.
 */
export async function preprocess(bytes: Buffer, model: ModelManifest, maxPixels: number): Promise<Uint8Array> {
  const { width, height, fit, background } = model.resize;
  try {
    const pixels = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .resize(width, height, {
        fit,
        position: 'centre',
        background: { r: background[0], g: background[1], b: background[2] },
      })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    if (pixels.length !== width * height * 3) throw new Error('unexpected channel count');
    return new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length);
  } catch (err) {
    // The client hears only that the bytes cannot be read; the logs keep why.
    throw new AppError('unprocessable', 'corrupt_image', 'the image cannot be decoded', { cause: err });
  }
}
