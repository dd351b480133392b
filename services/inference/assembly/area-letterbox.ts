// AssemblyScript: the area letterbox's two passes in WebAssembly SIMD (the filter, its spans and the
// layout of these buffers are in src/data-access/area-letterbox.ts). Plain integer arithmetic, so the
// bytes are exactly those of the filter written as a loop (the tests compare both), about four times
// as fast as the same loops in TypeScript. Every argument is a byte offset into this module's memory
// or a count; the caller leaves 16 bytes of slack after each buffer (a vector reads or writes up to 15
// bytes past the last pixel it needs). Compiled by `pnpm build:wasm` into area-letterbox.wasm.

/**
 * Columns: each of `height` source rows (`width` RGB pixels at `src`) to `outWidth` pixels, as i32
 * with 8 fractional bits, at `dst`. Tap k of output x reads source pixel `at[x·taps + k]` (i32) with
 * weight `weight[x·taps + k]` (i32).
 */
export function columns(
  src: usize,
  width: i32,
  height: i32,
  at: usize,
  weight: usize,
  taps: i32,
  outWidth: i32,
  dst: usize,
): void {
  const rounding = i32x4.splat(8);
  const rowBytes = <usize>(width * 3);
  let o = dst;
  for (let y = 0; y < height; y++) {
    const row = src + <usize>y * rowBytes;
    let tap = at;
    let w = weight;
    for (let x = 0; x < outWidth; x++) {
      // One pixel's r, g, b (and the next pixel's r, ignored) in four i32 lanes.
      let sum = rounding;
      for (let k = 0; k < taps; k++) {
        const p = row + <usize>(load<i32>(tap) * 3);
        const rgb = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p)));
        sum = i32x4.add(sum, i32x4.mul(rgb, i32x4.splat(load<i32>(w))));
        tap += 4;
        w += 4;
      }
      // Four lanes stored, three kept: the next pixel overwrites the fourth.
      v128.store(o, i32x4.shr_s(sum, 4));
      o += 12;
    }
  }
}

/**
 * Rows: the column pass's output (rows of `width` pixels at `across`) to `outHeight` rows of bytes at
 * `dst`, rounded. Row y takes source rows `at[y·taps + k]` with weights `weight[y·taps + k]`.
 */
export function rows(across: usize, width: i32, at: usize, weight: usize, taps: i32, outHeight: i32, dst: usize): void {
  const stride = width * 3;
  const half = i32x4.splat(1 << 19);
  const rowBytes = (<usize>stride) << 2;
  const vectorEnd = stride & ~15;
  let o = dst;
  for (let y = 0; y < outHeight; y++) {
    const first = at + <usize>(y * taps) * 4;
    const firstWeight = weight + <usize>(y * taps) * 4;
    let x = 0;
    for (; x < vectorEnd; x += 16) {
      let s0 = half;
      let s1 = half;
      let s2 = half;
      let s3 = half;
      for (let k = 0; k < taps; k++) {
        const line = across + <usize>load<i32>(first + ((<usize>k) << 2)) * rowBytes + ((<usize>x) << 2);
        const w = i32x4.splat(load<i32>(firstWeight + ((<usize>k) << 2)));
        s0 = i32x4.add(s0, i32x4.mul(v128.load(line), w));
        s1 = i32x4.add(s1, i32x4.mul(v128.load(line, 16), w));
        s2 = i32x4.add(s2, i32x4.mul(v128.load(line, 32), w));
        s3 = i32x4.add(s3, i32x4.mul(v128.load(line, 48), w));
      }
      const low = i16x8.narrow_i32x4_s(i32x4.shr_s(s0, 20), i32x4.shr_s(s1, 20));
      const high = i16x8.narrow_i32x4_s(i32x4.shr_s(s2, 20), i32x4.shr_s(s3, 20));
      v128.store(o + <usize>x, i8x16.narrow_i16x8_u(low, high));
    }
    for (; x < stride; x++) {
      let sum: i32 = 1 << 19;
      for (let k = 0; k < taps; k++) {
        const line = across + <usize>load<i32>(first + ((<usize>k) << 2)) * rowBytes;
        sum += load<i32>(line + ((<usize>x) << 2)) * load<i32>(firstWeight + ((<usize>k) << 2));
      }
      store<u8>(o + <usize>x, sum >> 20);
    }
    o += <usize>stride;
  }
}
