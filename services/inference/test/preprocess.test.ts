import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { preprocess, type ModelManifest } from '@capcheck/inference';
import { servedModel, sharpLanczos3Recipe } from '../../../test-support/models';

/**
 * The model is served as it was trained: its input is what the manifest's recipe makes of a picture
 * (`sharpLanczos3Recipe`). Any speed-up of `preprocess` must give these exact bytes; a faster resize
 * that changes a pixel is a new model version.
 */
let manifest: ModelManifest;
beforeAll(async () => {
  manifest = await servedModel();
});

/** A camera-like frame: smoothed noise, so the JPEG is neither flat nor random. */
const frame = async (width: number, height: number, channels: 3 | 4 = 3) =>
  sharp(
    await sharp(randomBytes(width * height * channels), { raw: { width, height, channels } })
      .blur(1.5)
      .raw()
      .toBuffer(),
    { raw: { width, height, channels } },
  );

const pictures: [string, () => Promise<Buffer>][] = [
  ['640×480 JPEG (the camera)', async () => (await frame(640, 480)).jpeg({ quality: 85 }).toBuffer()],
  ['640×480 JPEG, 4:4:4 chroma', async () => (await frame(640, 480)).jpeg({ chromaSubsampling: '4:4:4' }).toBuffer()],
  ['1600×1200 JPEG', async () => (await frame(1600, 1200)).jpeg().toBuffer()],
  ['100×60 JPEG (enlarged)', async () => (await frame(100, 60)).jpeg().toBuffer()],
  [
    '480×640 JPEG with EXIF orientation 6',
    async () => (await frame(480, 640)).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
  ],
  ['greyscale JPEG', async () => (await frame(320, 240)).greyscale().jpeg().toBuffer()],
  ['CMYK JPEG', async () => (await frame(320, 240)).toColourspace('cmyk').jpeg().toBuffer()],
  ['PNG with transparency', async () => (await frame(300, 200, 4)).png().toBuffer()],
  ['16-bit PNG', async () => (await frame(300, 200)).toColourspace('rgb16').png().toBuffer()],
  ['WebP', async () => (await frame(500, 375)).webp().toBuffer()],
  ['WebP with alpha', async () => (await frame(400, 300, 4)).webp().toBuffer()],
];

test.each(pictures)('%s: the tensor is byte for byte what the manifest prescribes', async (_name, make) => {
  const bytes = await make();
  const tensor = await preprocess(bytes, manifest, 40e6);
  const [height, width] = manifest.inputShape;
  expect(tensor).toHaveLength(height * width * 3);
  const expected = await sharpLanczos3Recipe(bytes, manifest);
  expect(Buffer.from(tensor.buffer, tensor.byteOffset, tensor.length).equals(expected)).toBe(true);
});

test('the comparison sees small changes: the same resize without JPEG shrink-on-load gives other bytes', async () => {
  const bytes = await (await frame(640, 480)).jpeg({ quality: 85 }).toBuffer();
  const [height, width] = manifest.inputShape;
  const exact = await sharp(bytes).resize(width, height, { fit: 'contain', background: '#000' }).raw().toBuffer();
  const slower = await sharp(bytes)
    .resize(width, height, { fit: 'contain', background: '#000', fastShrinkOnLoad: false })
    .raw()
    .toBuffer();
  expect(exact.equals(await sharpLanczos3Recipe(bytes, manifest))).toBe(true);
  expect(slower.equals(exact)).toBe(false);
});
