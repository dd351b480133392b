import { createHash } from 'node:crypto';
import { blobKeyForSha256, createLogger, newId, type Caller, type ImageId, type UserId } from '@capcheck/shared';
import { ImagesDomain, sharpDecoder } from '@capcheck/images';
import { httpImageSource, type ImageSource } from '@capcheck/inference';
import { inProcessImageSource } from '@capcheck/local';
import { startImages, type ImagesSystem } from '../../test-support/services';
import { uploadFile } from '../../test-support/http';
import { jpeg } from '../../test-support/images';

/**
 * How inference reads images, through each adapter: over HTTP with the caller's token (separate
 * services) and in-process (the local process). Both must answer alike, over the same images.
 */
let sys: ImagesSystem;
let domain: ImagesDomain;
beforeAll(async () => {
  sys = await startImages();
  domain = new ImagesDomain({
    images: sys.store.images,
    blobs: sys.blobs,
    events: sys.events,
    decoder: sharpDecoder({ maxPixels: 40e6 }),
    telemetry: { upload: () => undefined, blobBytesWritten: () => undefined, eventPublished: () => undefined },
    logger: createLogger({ service: 'test', level: 'silent' }),
    clock: { now: () => new Date() },
  });
});
afterAll(() => sys.close());

const adapters: [string, () => ImageSource][] = [
  ['HTTP, with the caller token', () => httpImageSource({ baseUrl: sys.baseUrl })],
  ['in-process', () => inProcessImageSource(domain)],
];

describe.each(adapters)('image source: %s', (_name, source) => {
  async function callerWithImage() {
    const user = await sys.signUp();
    const caller: Caller = { principal: { userId: user.id, role: 'user' }, accessToken: user.accessToken };
    const bytes = await jpeg();
    const img = await uploadFile(sys.baseUrl, user.accessToken, { bytes });
    return { caller, bytes, id: img.body.id as ImageId };
  }

  test("the owner gets the image's format and the sha256 its bytes are stored by", async () => {
    const { caller, bytes, id } = await callerWithImage();
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(await source().describe(caller, id)).toEqual({ imageId: id, format: 'jpeg', sha256 });
    expect(await sys.blobs.get(blobKeyForSha256(sha256))).toEqual(bytes);
  });

  test("store: the picture becomes the caller's upload; a refused picture keeps the images service's words", async () => {
    const { caller } = await callerWithImage();
    const bytes = await jpeg();
    const stored = await source().store(caller, { bytes, filename: 'frame.jpg' });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(stored).toEqual({ imageId: expect.any(String), format: 'jpeg', sha256 });
    expect(await source().describe(caller, stored.imageId)).toEqual(stored);
    await expect(source().store(caller, { bytes: Buffer.from('GIF89a....') })).rejects.toMatchObject({
      kind: 'unsupported_media_type',
      code: 'unsupported_image_type',
    });
    await expect(source().store(caller, { bytes: bytes.subarray(0, 300) })).rejects.toMatchObject({
      kind: 'unprocessable',
    });
  });

  test("another user's image, an unknown id and a deleted image are null", async () => {
    const { id, caller } = await callerWithImage();
    const other = await callerWithImage();
    expect(await source().describe(other.caller, id)).toBeNull();
    expect(await source().describe(caller, newId<ImageId>())).toBeNull();
    await sys.api.delete(`/images/${id}`, { token: caller.accessToken });
    expect(await source().describe(caller, id)).toBeNull();
  });
});

test('HTTP source: an images service that does not answer is a 503-kind error, not a hang', async () => {
  const { caller } = { caller: { principal: { userId: newId<UserId>(), role: 'user' as const }, accessToken: 'x' } };
  await expect(
    httpImageSource({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 2000 }).describe(caller, newId<ImageId>()),
  ).rejects.toMatchObject({
    kind: 'unavailable',
  });
});
