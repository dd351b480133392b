import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { AppError } from '@capcheck/shared';
import { preprocess, readModelManifest, type ModelManifest } from '@capcheck/inference';
import { bundledModels, modelName, sharpLanczos3Recipe } from '../../../test-support/models';
import { areaLetterbox, containedSize, orient, spans, type RgbImage } from '../src/data-access/area-letterbox';

/**
 * The `jpeg-scaled-area` recipe (v4): libjpeg-turbo's decode-time shrink for JPEGs, then an area-filter
 * letterbox. It gives other bytes than sharp's Lanczos3 (that is why it is a version of its own), but
 * the same picture: same orientation, same letterbox, pixels within a few levels.
 */
let manifest: ModelManifest;
beforeAll(async () => {
  manifest = await readModelManifest(bundledModels, modelName, '4');
});

/**
 * A frame whose red and green run left to right and top to bottom (a wrong turn, flip or margin costs
 * tens of levels on average), with smoothed noise in blue and the alpha channel (detail to resample).
 */
const frame = async (width: number, height: number, channels: 3 | 4 = 3) => {
  const pixels = randomBytes(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      pixels[(y * width + x) * channels] = Math.round((255 * x) / width);
      pixels[(y * width + x) * channels + 1] = Math.round((255 * y) / height);
    }
  }
  const raw = { width, height, channels };
  return sharp(await sharp(pixels, { raw }).blur(2).raw().toBuffer(), { raw });
};

const pictures: [string, () => Promise<Buffer>][] = [
  ['640×480 JPEG (the camera)', async () => (await frame(640, 480)).jpeg({ quality: 85 }).toBuffer()],
  ['640×480 progressive JPEG', async () => (await frame(640, 480)).jpeg({ progressive: true }).toBuffer()],
  ['2000×1500 JPEG (decoded off the event loop)', async () => (await frame(2000, 1500)).jpeg().toBuffer()],
  ['100×60 JPEG (enlarged)', async () => (await frame(100, 60)).jpeg().toBuffer()],
  ...[2, 3, 5, 6, 7, 8].map((orientation): [string, () => Promise<Buffer>] => [
    `480×640 JPEG with EXIF orientation ${orientation}`,
    async () => (await frame(480, 640)).jpeg().withMetadata({ orientation }).toBuffer(),
  ]),
  ['greyscale JPEG', async () => (await frame(320, 240)).greyscale().jpeg().toBuffer()],
  ['CMYK JPEG (through sharp)', async () => (await frame(320, 240)).toColourspace('cmyk').jpeg().toBuffer()],
  [
    'JPEG with a Display P3 profile (through sharp)',
    async () => (await frame(320, 240)).jpeg().withIccProfile('p3').toBuffer(),
  ],
  ['PNG with transparency', async () => (await frame(300, 200, 4)).png().toBuffer()],
  ['WebP', async () => (await frame(500, 375)).webp().toBuffer()],
];

test.each(pictures)('%s: the same picture as the Lanczos3 recipe, letterboxed alike', async (_name, make) => {
  const bytes = await make();
  const tensor = await preprocess(bytes, manifest, 40e6);
  const reference = await sharpLanczos3Recipe(bytes, manifest);
  expect(tensor).toHaveLength(reference.length);
  let total = 0;
  for (let i = 0; i < reference.length; i++) total += Math.abs(tensor[i]! - reference[i]!);
  // Two filters: a few levels on average (smoothed noise in blue). A wrong turn, flip or margin costs tens.
  expect(total / reference.length).toBeLessThan(3);
  const black = (t: ArrayLike<number>, i: number) => t[i * 3] === 0 && t[i * 3 + 1] === 0 && t[i * 3 + 2] === 0;
  const corners = [0, manifest.resize.width - 1, reference.length / 3 - 1];
  for (const i of corners) expect(black(tensor, i)).toBe(black(reference, i));
});

test('a picture the size of the input is passed through untouched', async () => {
  const { width, height } = manifest.resize;
  const raw = randomBytes(width * height * 3);
  const png = await sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  const tensor = await preprocess(png, manifest, 40e6);
  expect(Buffer.from(tensor).equals(raw)).toBe(true);
});

test.each([
  ['a truncated JPEG', async () => (await (await frame(640, 480)).jpeg().toBuffer()).subarray(0, 6000), 40e6],
  [
    'JPEG markers and then garbage',
    async () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(4000)]),
    40e6,
  ],
  ['a JPEG over the pixel limit', async () => (await frame(640, 480)).jpeg().toBuffer(), 640 * 480 - 1],
] as [string, () => Promise<Buffer>, number][])('%s is a 422, not a crash', async (_name, make, limit) => {
  const error = await preprocess(await make(), manifest, limit).catch((err: unknown) => err);
  expect(error).toBeInstanceOf(AppError);
  expect(error).toMatchObject({ kind: 'unprocessable', code: 'corrupt_image' });
});

describe('the area letterbox', () => {
  const image = (width: number, height: number, at: (x: number, y: number) => [number, number, number]) => {
    const pixels = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels.set(at(x, y), (y * width + x) * 3);
    return { pixels, width, height };
  };
  const box = { width: 4, height: 4, background: [0, 0, 0] as const };

  test('each output pixel is the mean of the span it covers', () => {
    // 8×2 → 4×1: pairs of columns and both rows averaged.
    const source = image(8, 2, (x, y) => [x * 10 + y * 2, 100, 7 + (x % 2)]);
    const out = areaLetterbox(source, { width: 4, height: 1 }, box);
    const row = 1; // (4 - 1) / 2 rounded down: one black row above
    const means = [0, 1, 2, 3].map((i) => Array.from(out.subarray((row * 4 + i) * 3, (row * 4 + i) * 3 + 3)));
    expect(means).toEqual([0, 1, 2, 3].map((i) => [Math.round((i * 20 + i * 20 + 10 + 2) / 2), 100, Math.round(7.5)]));
    expect(Array.from(out.subarray(0, 12))).toEqual(new Array(12).fill(0));
  });

  test('a flat picture stays exactly flat at any scale', () => {
    const flat = image(97, 53, () => [201, 13, 128]);
    const size = containedSize(97, 53, 40, 40);
    const out = areaLetterbox(flat, size, { width: 40, height: 40, background: [0, 0, 0] });
    const top = Math.floor((40 - size.height) / 2);
    for (let y = top; y < top + size.height; y++) {
      for (let x = 0; x < 40; x++)
        expect(Array.from(out.subarray((y * 40 + x) * 3, (y * 40 + x) * 3 + 3))).toEqual([201, 13, 128]);
    }
  });

  test('orientation 6 turns the picture a quarter clockwise, 8 a quarter anticlockwise', () => {
    const source = image(3, 2, (x, y) => [x, y, 0]);
    const pixel = (img: ReturnType<typeof orient>, x: number, y: number) =>
      Array.from(img.pixels.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 2));
    const six = orient(source, 6);
    expect([six.width, six.height]).toEqual([2, 3]);
    expect(pixel(six, 1, 0)).toEqual([0, 0]); // the top-left pixel goes to the top right
    const eight = orient(source, 8);
    expect(pixel(eight, 0, 2)).toEqual([0, 0]); // ... or to the bottom left
  });

  /**
   * The filter's arithmetic written plainly, one channel of one pixel at a time: columns kept with 8
   * fractional bits (rounded by +8 before >> 4), then rows rounded to bytes (+2^19 before >> 20).
   */
  const plainLetterbox = (
    image: RgbImage,
    shown: { width: number; height: number },
    box: { width: number; height: number; background: readonly [number, number, number] },
  ) => {
    const { pixels, width, height } = image;
    const cols = spans(width, shown.width);
    const rows = spans(height, shown.height);
    const across = new Int32Array(height * shown.width * 3);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < shown.width; x++)
        for (let c = 0; c < 3; c++) {
          let v = 8;
          for (let k = x * cols.taps; k < (x + 1) * cols.taps; k++)
            v += pixels[(y * width + cols.at[k]!) * 3 + c]! * cols.weight[k]!;
          across[(y * shown.width + x) * 3 + c] = v >> 4;
        }
    const out = new Uint8Array(box.width * box.height * 3);
    for (let i = 0; i < out.length; i++) out[i] = box.background[i % 3]!;
    const left = Math.floor((box.width - shown.width) / 2);
    const top = Math.floor((box.height - shown.height) / 2);
    for (let y = 0; y < shown.height; y++)
      for (let x = 0; x < shown.width; x++)
        for (let c = 0; c < 3; c++) {
          let v = 1 << 19;
          for (let k = y * rows.taps; k < (y + 1) * rows.taps; k++)
            v += across[(rows.at[k]! * shown.width + x) * 3 + c]! * rows.weight[k]!;
          out[((top + y) * box.width + left + x) * 3 + c] = v >> 20;
        }
    return out;
  };

  // Three taps (under 2× smaller, as after a decode-time shrink), many taps, enlarging, and rows of 474,
  // 291, 93 and 6 bytes (3 to 13 left after the 16-byte vectors, or no vector at all); the 2000×1500
  // picture is past the size the reused WebAssembly instance takes, and the ones after it run on that
  // instance again.
  test.each([
    [160, 120, 158, 158],
    [640, 480, 158, 158],
    [333, 157, 158, 158],
    [2000, 1500, 158, 158],
    [7, 5, 158, 158],
    [50, 400, 31, 17],
    [161, 121, 97, 64],
  ])('%i×%i into %i×%i: the WebAssembly passes give exactly the filter arithmetic', (w, h, bw, bh) => {
    const picture = { pixels: new Uint8Array(randomBytes(w * h * 3)), width: w, height: h };
    const shown = containedSize(w, h, bw, bh);
    const box = { width: bw, height: bh, background: [255, 128, 1] as const };
    expect(Buffer.from(areaLetterbox(picture, shown, box)).equals(plainLetterbox(picture, shown, box))).toBe(true);
  });

  test('the committed WebAssembly module is what its source compiles to (pnpm build:wasm)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'capcheck-wasm-'));
    try {
      const compiled = join(dir, 'area-letterbox.wasm');
      const script = JSON.parse(await readFile(join(__dirname, '..', 'package.json'), 'utf8')).scripts['build:wasm'];
      const args = (script as string).split(' ').slice(1);
      args[args.indexOf('-o') + 1] = compiled;
      await promisify(execFile)(join(__dirname, '..', 'node_modules', '.bin', 'asc'), args, {
        cwd: join(__dirname, '..'),
        timeout: 60_000,
      });
      const committed = await readFile(join(__dirname, '..', 'assembly', 'area-letterbox.wasm'));
      expect((await readFile(compiled)).equals(committed)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
