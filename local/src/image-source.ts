import { AppError } from '@capcheck/shared';
import type { ImagesDomain } from '@capcheck/images';
import type { ImageSource } from '@capcheck/inference';

/** The images domain's "not found" is the image source's null. */
async function orNull<T>(work: Promise<T>): Promise<T | null> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof AppError && err.kind === 'not_found') return null;
    throw err;
  }
}

/**
 * Inference reading images in the same process: straight through the images domain, with the same
 * ownership check as its HTTP route (another user's image is not found), without the HTTP.
 */
export function inProcessImageSource(images: ImagesDomain): ImageSource {
  return {
    async describe(caller, id) {
      const record = await orNull(images.get(caller.principal, id));
      return record && { imageId: record.id, sha256: record.sha256, format: record.format };
    },
    async store(caller, picture) {
      const record = await images.upload(caller.principal, { bytes: picture.bytes, originalName: picture.filename });
      return { imageId: record.id, sha256: record.sha256, format: record.format };
    },
  };
}
