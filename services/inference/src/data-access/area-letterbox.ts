/** An RGB picture, row-major, 3 bytes a pixel. */
export interface RgbImage {
  pixels: Uint8Array;
  width: number;
  height: number;
}

/**
 * The picture as EXIF orientation `orientation` (1 … 8) says it is to be shown: the same turns and
 * flips as sharp's `rotate()`. Orientation 1 returns the picture itself.
 */
export function orient(image: RgbImage, orientation: number): RgbImage {
  if (orientation <= 1 || orientation > 8) return image;
  const { pixels, width: w, height: h } = image;
  const swaps = orientation >= 5;
  const [ow, oh] = swaps ? [h, w] : [w, h];
  // Where the shown pixel (x, y) is stored.
  const source: Record<number, (x: number, y: number) => number> = {
    2: (x, y) => y * w + (w - 1 - x),
    3: (x, y) => (h - 1 - y) * w + (w - 1 - x),
    4: (x, y) => (h - 1 - y) * w + x,
    5: (x, y) => x * w + y,
    6: (x, y) => (h - 1 - x) * w + y,
    7: (x, y) => (h - 1 - x) * w + (w - 1 - y),
    8: (x, y) => x * w + (w - 1 - y),
  };
  const at = source[orientation]!;
  const out = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const from = at(x, y) * 3;
      const to = (y * ow + x) * 3;
      out[to] = pixels[from]!;
      out[to + 1] = pixels[from + 1]!;
      out[to + 2] = pixels[from + 2]!;
    }
  }
  return { pixels: out, width: ow, height: oh };
}

/** The size a picture takes inside a `width`×`height` box when scaled to fit whole (at least 1×1). */
export function containedSize(width: number, height: number, boxWidth: number, boxHeight: number) {
  const scale = Math.min(boxWidth / width, boxHeight / height);
  return {
    width: Math.max(1, Math.min(boxWidth, Math.round(width * scale))),
    height: Math.max(1, Math.min(boxHeight, Math.round(height * scale))),
  };
}

/**
 * For each output pixel of one axis, the source pixels it covers and how much of each: the box (area)
 * filter, i.e. each output pixel is the mean of the source span [i·n/m, (i+1)·n/m). When enlarging,
 * the span is shorter than a pixel and takes the one or two pixels it overlaps. Weights are integers
 * summing to exactly 2^12 (so a flat area stays exactly flat); integer loops over typed arrays ran
 * about twice as fast as float ones here.
 *
 * Every output pixel has the same number of taps (at least three), laid out ahead in flat arrays:
 * tap k of output i reads source pixel `at[i·taps + k]` with weight `weight[i·taps + k]`; taps past a
 * span weigh 0 and read its last pixel. So the loops have no bounds to work out, and three taps (any
 * shrink of less than 2×, as after a JPEG's decode-time shrink) take branch-free loops, about twice as
 * fast as the general ones.
 */
interface Spans {
  at: Int32Array;
  weight: Int32Array;
  taps: number;
}

const ONE = 1 << 12;

function spans(from: number, to: number): Spans {
  const step = from / to;
  const taps = Math.max(3, Math.ceil(step) + 1);
  const at = new Int32Array(to * taps);
  const weight = new Int32Array(to * taps);
  for (let i = 0; i < to; i++) {
    const start = i * step;
    const end = Math.min(from, (i + 1) * step);
    const lo = Math.floor(start);
    const hi = Math.min(from, Math.ceil(end), lo + taps);
    let sum = 0;
    let largest = i * taps;
    for (let k = 0; k < taps; k++) {
      const tap = i * taps + k;
      const s = lo + k;
      at[tap] = Math.min(s, hi - 1);
      if (s >= hi) continue;
      weight[tap] = Math.round(((Math.min(end, s + 1) - Math.max(start, s)) / (end - start)) * ONE);
      sum += weight[tap]!;
      if (weight[tap]! > weight[largest]!) largest = tap;
    }
    weight[largest]! += ONE - sum;
  }
  return { at, weight, taps };
}

/** Columns: each source row to `cols.at.length / cols.taps` columns, kept with 8 fractional bits. */
function columns(image: RgbImage, cols: Spans): Int32Array {
  const { pixels, width, height } = image;
  const { at, weight, taps } = cols;
  const outWidth = at.length / taps;
  const out = new Int32Array(height * outWidth * 3);
  let o = 0;
  for (let y = 0; y < height; y++) {
    const rowAt = y * width * 3;
    for (let x = 0, tap = 0; x < outWidth; x++, tap += taps) {
      let r = 8;
      let g = 8;
      let b = 8;
      if (taps === 3) {
        // Math.imul: integer multiplies without the overflow checks of `*`.
        const s0 = rowAt + at[tap]! * 3;
        const s1 = rowAt + at[tap + 1]! * 3;
        const s2 = rowAt + at[tap + 2]! * 3;
        const [w0, w1, w2] = [weight[tap]!, weight[tap + 1]!, weight[tap + 2]!];
        r += Math.imul(pixels[s0]!, w0) + Math.imul(pixels[s1]!, w1) + Math.imul(pixels[s2]!, w2);
        g += Math.imul(pixels[s0 + 1]!, w0) + Math.imul(pixels[s1 + 1]!, w1) + Math.imul(pixels[s2 + 1]!, w2);
        b += Math.imul(pixels[s0 + 2]!, w0) + Math.imul(pixels[s1 + 2]!, w1) + Math.imul(pixels[s2 + 2]!, w2);
      } else {
        for (let k = tap; k < tap + taps; k++) {
          const s = rowAt + at[k]! * 3;
          r += Math.imul(pixels[s]!, weight[k]!);
          g += Math.imul(pixels[s + 1]!, weight[k]!);
          b += Math.imul(pixels[s + 2]!, weight[k]!);
        }
      }
      out[o++] = r >> 4;
      out[o++] = g >> 4;
      out[o++] = b >> 4;
    }
  }
  return out;
}

/**
 * Rows: the column pass's output (`width` pixels a row) to `rows.at.length / rows.taps` rows, rounded
 * into `box` at (left, top), a whole row at a time so that the inner loop is long and plain.
 */
function rowsInto(
  across: Int32Array,
  width: number,
  rows: Spans,
  box: { out: Uint8Array; width: number; left: number; top: number },
): void {
  const { at, weight, taps } = rows;
  const stride = width * 3;
  const half = 1 << 19; // 8 + 12 fractional bits: at most 255·2^20 (+ half), never above 255 once shifted
  const sum = taps === 3 ? null : new Int32Array(stride);
  for (let y = 0, tap = 0; tap < at.length; y++, tap += taps) {
    const outAt = ((box.top + y) * box.width + box.left) * 3;
    if (!sum) {
      const [a0, a1, a2] = [at[tap]! * stride, at[tap + 1]! * stride, at[tap + 2]! * stride];
      const [w0, w1, w2] = [weight[tap]!, weight[tap + 1]!, weight[tap + 2]!];
      for (let x = 0; x < stride; x++) {
        const v = Math.imul(across[a0 + x]!, w0) + Math.imul(across[a1 + x]!, w1) + Math.imul(across[a2 + x]!, w2);
        box.out[outAt + x] = (v + half) >> 20;
      }
      continue;
    }
    sum.fill(half);
    for (let k = tap; k < tap + taps; k++) {
      const rowAt = at[k]! * stride;
      for (let x = 0; x < stride; x++) sum[x]! += Math.imul(across[rowAt + x]!, weight[k]!);
    }
    for (let x = 0; x < stride; x++) box.out[outAt + x] = sum[x]! >> 20;
  }
}

/**
 * Letterboxes a picture into `box`: scaled to fit whole with the area filter ({@link spans}, columns
 * first, then rows), centred (an odd margin puts the extra pixel below or right), the rest `background`.
 * `shown` is the size the scaled content takes, computed from the picture as shown before any
 * decode-time shrink, so the geometry does not depend on how the picture was decoded.
 */
export function areaLetterbox(
  image: RgbImage,
  shown: { width: number; height: number },
  box: { width: number; height: number; background: readonly [number, number, number] },
): Uint8Array {
  const { width: cw, height: ch } = shown;
  const across = columns(image, spans(image.width, cw));
  const out = new Uint8Array(box.width * box.height * 3);
  if (box.background.some((v) => v !== 0)) {
    for (let i = 0; i < out.length; i += 3) out.set(box.background, i);
  }
  const left = Math.floor((box.width - cw) / 2);
  const top = Math.floor((box.height - ch) / 2);
  rowsInto(across, cw, spans(image.height, ch), { out, width: box.width, left, top });
  return out;
}
