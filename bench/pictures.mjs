// The bench's camera pictures: `count` distinct 640×480 JPEGs, the same on every run and machine.
// Picture i is one of the shipped sample bottles, scaled to a size and placed at a spot drawn from a
// PRNG seeded with i, on a lit gradient background, with per-pixel sensor noise (so the JPEG carries
// the entropy of a real camera frame, not the flat colours of a rendering), encoded at quality 85.
// They are written once into the system's temp folder and reused by later runs.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const root = join(import.meta.dirname, '..');
const width = 640;
const height = 480;
/** Bump when the recipe changes, so old folders are not mistaken for the new pictures. */
const recipe = 'v2';

/** mulberry32: a small seeded PRNG, enough for placing bottles and drawing noise. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sensor noise, ±6 levels: one table, read from a different offset for each picture. */
const noise = (() => {
  const random = prng(0);
  return Int8Array.from({ length: 1 << 20 }, () => Math.round((random() - 0.5) * 12));
})();

async function render(sharp, samples, index) {
  const random = prng(index + 1);
  const sample = samples[index % samples.length];
  const side = 320 + Math.floor(random() * 161);
  const left = Math.floor(random() * (width - side + 1));
  const top = Math.floor(random() * (height - side + 1));
  const from = [0, 1, 2].map(() => 60 + random() * 150);
  const to = [0, 1, 2].map(() => 60 + random() * 150);
  const background = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x + y) / (width + height);
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) background[o + c] = from[c] + (to[c] - from[c]) * t;
    }
  }
  const bottle = await sharp(sample).resize(side, side).toBuffer();
  const pixels = await sharp(background, { raw: { width, height, channels: 3 } })
    .composite([{ input: bottle, left, top }])
    .removeAlpha()
    .raw()
    .toBuffer();
  const from0 = Math.floor(random() * noise.length);
  for (let i = 0; i < pixels.length; i++) {
    const noisy = pixels[i] + noise[(from0 + i) % noise.length];
    pixels[i] = noisy < 0 ? 0 : noisy > 255 ? 255 : noisy;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** The folder holding `count` pictures named p00000.jpg…, made on first use. */
export async function benchPictures(count) {
  const dir = join(tmpdir(), `capcheck-bench-pictures-${recipe}-${count}`);
  const done = join(dir, 'complete');
  if (!existsSync(done)) {
    const sharp = require(join(root, 'services/images/node_modules/sharp'));
    const samplesDir = join(root, 'models/bottle-state/samples');
    const samples = readdirSync(samplesDir)
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .map((f) => readFileSync(join(samplesDir, f)));
    mkdirSync(dir, { recursive: true });
    const started = Date.now();
    for (let i = 0; i < count; i++) writeFileSync(join(dir, pictureName(i)), await render(sharp, samples, i));
    writeFileSync(done, `${count} pictures in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  }
  return dir;
}

export const pictureName = (index) => `p${String(index).padStart(5, '0')}.jpg`;
