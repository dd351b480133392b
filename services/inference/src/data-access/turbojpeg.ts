import { dirname, join } from 'node:path';
import koffi from 'koffi';

/**
 * libjpeg-turbo's TurboJPEG API, called directly (koffi) for the `jpeg-scaled-area` recipe: it
 * decodes a JPEG at 1/8, 2/8 … 8/8 of its size in the DCT, so a 640×480 picture for a 158 px model
 * costs ~0.6 ms instead of sharp's 5 ms (most of which is libvips' per-picture pipeline, not the
 * decoder). The library is the one `@julusian/jpeg-turbo` ships prebuilt for Linux (glibc and musl);
 * its own bindings cannot scale, so only its shared library is used.
 */
const libraryPath = (): string => {
  if (process.platform !== 'linux') {
    throw new Error(`libjpeg-turbo ships prebuilt for Linux only, not for ${process.platform}`);
  }
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  const libc = report.header?.glibcVersionRuntime ? '' : '-musl';
  const packageDir = dirname(require.resolve('@julusian/jpeg-turbo/package.json'));
  return join(packageDir, 'prebuilds', `jpeg-turbo-linux-${process.arch}${libc}`, 'libturbojpeg.so.0');
};

const TJPF_RGB = 0;
/** TurboJPEG colour spaces that cannot be decoded to RGB. */
const TJCS_CMYK = 3;
const TJCS_YCCK = 4;
/** A damaged stream is an error, not a warning with grey blocks (as sharp's `failOn: 'error'`). */
const TJFLAG_STOPONWARNING = 8192;
/** Refuse progressive JPEGs with an absurd number of scans (a known decode-time attack). */
const TJFLAG_LIMITSCANS = 32768;

type Decompress = ((...args: DecompressArgs) => number) & {
  async(...args: [...DecompressArgs, (err: unknown, status: number) => void]): void;
};
type DecompressArgs = [
  handle: unknown,
  jpeg: Buffer,
  size: number,
  out: Buffer,
  w: number,
  pitch: number,
  h: number,
  pixelFormat: number,
  flags: number,
];

interface TurboJpeg {
  initDecompress(): unknown;
  destroy(handle: unknown): number;
  header(handle: unknown, jpeg: Buffer, size: number, w: number[], h: number[], ss: number[], cs: number[]): number;
  decompress: Decompress;
  errorOf(handle: unknown): string;
}

let loaded: TurboJpeg | undefined;
const turbo = (): TurboJpeg => {
  if (loaded) return loaded;
  const lib = koffi.load(libraryPath());
  loaded = {
    initDecompress: lib.func('void *tjInitDecompress()'),
    destroy: lib.func('int tjDestroy(void *handle)'),
    header: lib.func(
      'int tjDecompressHeader3(void *handle, const uint8_t *jpeg, unsigned long size, _Out_ int *width, _Out_ int *height, _Out_ int *subsampling, _Out_ int *colorspace)',
    ),
    decompress: lib.func(
      'int tjDecompress2(void *handle, const uint8_t *jpeg, unsigned long size, _Out_ uint8_t *out, int width, int pitch, int height, int pixelFormat, int flags)',
    ) as Decompress,
    errorOf: lib.func('const char *tjGetErrorStr2(void *handle)'),
  };
  return loaded;
};

/** Loads the library now (it is otherwise loaded on the first picture); throws if it cannot. */
export const loadTurboJpeg = (): void => void turbo();

/** This thread's decompressor for calls on it: a handle keeps state between calls and is not shared. */
let handle: unknown;
const decompressor = (): unknown => (handle ??= turbo().initDecompress());

/**
 * Pictures larger than this (stored pixels) are decoded on libuv's thread pool, so that a big one
 * does not hold the event loop for tens of milliseconds; smaller ones are decoded in place, which
 * spares the hand-off between threads (the larger part of the cost at camera sizes).
 */
const DECODE_IN_PLACE_MAX_PIXELS = 2_000_000;

export interface JpegHeader {
  width: number;
  height: number;
  /** false for CMYK and YCCK pictures, which TurboJPEG cannot turn into RGB. */
  rgb: boolean;
}

export class JpegDecodeError extends Error {
  override name = 'JpegDecodeError';
}

/** The stored (not EXIF-oriented) size of a JPEG, from its header alone. */
export function jpegHeader(jpeg: Buffer): JpegHeader {
  const [width, height, subsampling, colorspace] = [[0], [0], [0], [0]];
  if (turbo().header(decompressor(), jpeg, jpeg.length, width, height, subsampling, colorspace) !== 0) {
    throw new JpegDecodeError(turbo().errorOf(decompressor()));
  }
  return { width: width[0]!, height: height[0]!, rgb: colorspace[0] !== TJCS_CMYK && colorspace[0] !== TJCS_YCCK };
}

/** A side of a JPEG decoded at `eighths`/8 of its size: TurboJPEG's ceil(side × eighths / 8). */
const scaled = (side: number, eighths: number): number => Math.ceil((side * eighths) / 8);

/**
 * Decodes to RGB at the smallest k/8 (k = 1 … 8) of the stored size that is at least `minWidth` ×
 * `minHeight` (the whole size when none is), which libjpeg does inside the inverse DCT.
 */
export async function decodeJpegCovering(
  jpeg: Buffer,
  header: JpegHeader,
  minWidth: number,
  minHeight: number,
): Promise<{ pixels: Uint8Array; width: number; height: number }> {
  let eighths = 1;
  while (eighths < 8 && (scaled(header.width, eighths) < minWidth || scaled(header.height, eighths) < minHeight)) {
    eighths++;
  }
  const width = scaled(header.width, eighths);
  const height = scaled(header.height, eighths);
  const out = Buffer.allocUnsafe(width * height * 3);
  const args = [jpeg, jpeg.length, out, width, 0, height, TJPF_RGB, TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS] as const;
  if (header.width * header.height <= DECODE_IN_PLACE_MAX_PIXELS) {
    if (turbo().decompress(decompressor(), ...args) !== 0) throw new JpegDecodeError(turbo().errorOf(decompressor()));
  } else {
    const own = turbo().initDecompress();
    try {
      const status = await new Promise<number>((resolve, reject) =>
        turbo().decompress.async(own, ...args, (err, result) => (err ? reject(err) : resolve(result))),
      );
      if (status !== 0) throw new JpegDecodeError(turbo().errorOf(own));
    } finally {
      turbo().destroy(own);
    }
  }
  return { pixels: new Uint8Array(out.buffer, out.byteOffset, out.length), width, height };
}
