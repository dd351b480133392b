import { AppError } from '../errors';
import type { ImageId } from '../ids';
import type { ImageFormat } from '../ports/events';
import type { Caller, ImageSource, SourcedImage } from '../ports/image-source';

const formats: Record<string, ImageFormat> = { 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp' };

/**
 * Reads through the images service's public API with the caller's own Bearer token: no internal
 * credentials exist that could read someone else's image. The ETag is the sha256 of the bytes.
 */
export function httpImageSource(options: { baseUrl: string; timeoutMs?: number }): ImageSource {
  return {
    async read(caller: Caller, id: ImageId): Promise<SourcedImage | null> {
      let res: Response;
      try {
        res = await fetch(`${options.baseUrl}/images/${encodeURIComponent(id)}/content`, {
          headers: { authorization: `Bearer ${caller.accessToken}` },
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
      } catch {
        throw new AppError('unavailable', 'images_unavailable', 'the images service did not answer');
      }
      if (res.status === 404) return null;
      if (!res.ok) throw new AppError('unavailable', 'images_unavailable', `the images service answered ${res.status}`);
      const format = formats[res.headers.get('content-type') ?? ''];
      const sha256 = /^"([0-9a-f]{64})"$/.exec(res.headers.get('etag') ?? '')?.[1];
      if (!format || !sha256)
        throw new AppError('unavailable', 'images_unavailable', 'unexpected answer from the images service');
      return { imageId: id, sha256, format, bytes: Buffer.from(await res.arrayBuffer()) };
    },
  };
}
