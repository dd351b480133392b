import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
 * summing to exactly 2^12, so a flat area stays exactly flat.
 *
 * Every output pixel has the same number of taps (at least three), laid out ahead in flat arrays:
 * tap k of output i reads source pixel `at[i·taps + k]` with weight `weight[i·taps + k]`; taps past a
 * span weigh 0 and read its last pixel. So the passes have no bounds to work out.
 */
export interface Spans {
  at: Int32Array;
  weight: Int32Array;
  taps: number;
}

const ONE = 1 << 12;

export function spans(from: number, to: number): Spans {
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

/** Spans by (from, to): a camera sends the same size again and again. Bounded, as sizes are the client's. */
const spansMade = new Map<number, Spans>();
function spansFor(from: number, to: number): Spans {
  const key = from * 65536 + to;
  let made = spansMade.get(key);
  if (!made) {
    if (spansMade.size >= 64) spansMade.clear();
    made = spans(from, to);
    spansMade.set(key, made);
  }
  return made;
}

/**
 * The two passes run in WebAssembly SIMD (`assembly/area-letterbox.ts`, compiled by `pnpm build:wasm`
 * into the `.wasm` beside it): the same integer arithmetic as a plain loop, so the same bytes, about
 * four times as fast as the TypeScript loops that came before. Columns first, each kept as i32 with 8
 * fractional bits; then rows, rounded to bytes (weights sum to 2^12 on each axis: 8 + 12 bits).
 */
interface Kernel {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  columns(
    src: number,
    width: number,
    height: number,
    at: number,
    weight: number,
    taps: number,
    outWidth: number,
    dst: number,
  ): void;
  rows(across: number, width: number, at: number, weight: number, taps: number, outHeight: number, dst: number): void;
}

/** The part of the WebAssembly API used here: TypeScript declares it only in its DOM library. */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: WebAssemblyApi };

const kernelPath = join(__dirname, '..', '..', 'assembly', 'area-letterbox.wasm');
let kernelModule: object | undefined;
/** One instance reused on this thread for pictures whose buffers fit in `reusedBytes`. */
let reused: Kernel | undefined;
/**
 * A module's memory only grows, so a large picture (a PNG decoded whole) gets an instance of its own
 * that is dropped after it, and the reused one stays small.
 */
const reusedBytes = 8 << 20;

/** Compiles the kernel (once): called when a model that uses it loads, so a missing file stops that. */
export function loadAreaLetterbox(): object {
  return (kernelModule ??= new wasm.Module(readFileSync(kernelPath)));
}

function kernelFor(bytes: number): Kernel {
  const module = loadAreaLetterbox();
  const make = () => new wasm.Instance(module).exports as unknown as Kernel;
  const kernel = bytes <= reusedBytes ? (reused ??= make()) : make();
  const missing = bytes - kernel.memory.buffer.byteLength;
  if (missing > 0) kernel.memory.grow(Math.ceil(missing / 65536));
  return kernel;
}

/** Buffers laid out one after another, 16-byte aligned, each with 16 bytes of slack for the vectors. */
function layout<Name extends string>(sizes: Record<Name, number>): { at: Record<Name, number>; end: number } {
  let end = 0;
  const at = {} as Record<Name, number>;
  for (const name of Object.keys(sizes) as Name[]) {
    at[name] = end;
    end += (sizes[name] + 16 + 15) & ~15;
  }
  return { at, end };
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
  const { pixels, width, height } = image;
  const { width: cw, height: ch } = shown;
  const cols = spansFor(width, cw);
  const rows = spansFor(height, ch);
  const { at, end } = layout({
    src: pixels.length,
    colsAt: cols.at.byteLength,
    colsWeight: cols.weight.byteLength,
    rowsAt: rows.at.byteLength,
    rowsWeight: rows.weight.byteLength,
    across: height * cw * 3 * 4,
    content: ch * cw * 3,
  });
  const kernel = kernelFor(end);
  const memory = new Uint8Array(kernel.memory.buffer);
  memory.set(pixels, at.src);
  memory.set(new Uint8Array(cols.at.buffer), at.colsAt);
  memory.set(new Uint8Array(cols.weight.buffer), at.colsWeight);
  memory.set(new Uint8Array(rows.at.buffer), at.rowsAt);
  memory.set(new Uint8Array(rows.weight.buffer), at.rowsWeight);
  kernel.columns(at.src, width, height, at.colsAt, at.colsWeight, cols.taps, cw, at.across);
  kernel.rows(at.across, cw, at.rowsAt, at.rowsWeight, rows.taps, ch, at.content);

  const out = new Uint8Array(box.width * box.height * 3);
  if (box.background.some((v) => v !== 0)) {
    for (let i = 0; i < out.length; i += 3) out.set(box.background, i);
  }
  const left = Math.floor((box.width - cw) / 2);
  const top = Math.floor((box.height - ch) / 2);
  const row = cw * 3;
  for (let y = 0; y < ch; y++) {
    out.set(memory.subarray(at.content + y * row, at.content + (y + 1) * row), ((top + y) * box.width + left) * 3);
  }
  return out;
}
