import { AppError, CircuitBreaker, type Caller, type ImageFormat, type ImageId } from '@capcheck/shared';
import type { DescribedImage, ImageSource, SourcedImage } from '../domain/ports';

const formats: Record<string, ImageFormat> = { 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp' };

/**
 * Reads through the images service's public API with the caller's own Bearer token: no internal
 * credentials exist that could read someone else's image. The ETag is the sha256 of the bytes.
 */
export function httpImageSource(options: {
  baseUrl: string;
  /** Each call's deadline. */
  timeoutMs?: number;
  /** Fails calls fast while images is down (default: opens after 5 failures, retries after 5 s). */
  breaker?: CircuitBreaker;
}): ImageSource {
  const breaker = options.breaker ?? new CircuitBreaker({ name: 'images', failureThreshold: 5, openMs: 5_000 });
  const fetchFrom = async (caller: Caller, path: string): Promise<Response | null> => {
    let res: Response;
    try {
      res = await fetch(`${options.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${caller.accessToken}` },
        signal: AbortSignal.timeout(options.timeoutMs ?? 2_000),
      });
    } catch (err) {
      throw new AppError('unavailable', 'images_unavailable', 'the images service did not answer', { cause: err });
    }
    if (res.status === 404) return null;
    if (!res.ok) throw new AppError('unavailable', 'images_unavailable', `the images service answered ${res.status}`);
    return res;
  };
  // A 404 or an answer is the neighbour working; only "did not answer" and 5xx count against it.
  const call = (caller: Caller, path: string) => breaker.run(() => fetchFrom(caller, path));
  return {
    async describe(caller: Caller, id: ImageId): Promise<DescribedImage | null> {
      const res = await call(caller, `/images/${encodeURIComponent(id)}`);
      if (!res) return null;
      const body = (await res.json()) as { sha256?: unknown; format?: unknown };
      const format = typeof body.format === 'string' ? formats[`image/${body.format}`] : undefined;
      if (typeof body.sha256 !== 'string' || !format) {
        throw new AppError('unavailable', 'images_unavailable', 'unexpected answer from the images service');
      }
      return { imageId: id, sha256: body.sha256, format };
    },
    async read(caller: Caller, id: ImageId): Promise<SourcedImage | null> {
      const res = await call(caller, `/images/${encodeURIComponent(id)}/content`);
      if (!res) return null;
      const format = formats[res.headers.get('content-type') ?? ''];
      const sha256 = /^"([0-9a-f]{64})"$/.exec(res.headers.get('etag') ?? '')?.[1];
      if (!format || !sha256)
        throw new AppError('unavailable', 'images_unavailable', 'unexpected answer from the images service');
      return { imageId: id, sha256, format, bytes: Buffer.from(await res.arrayBuffer()) };
    },
  };
}
