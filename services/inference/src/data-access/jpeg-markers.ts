/**
 * What the `jpeg-scaled-area` recipe needs from a JPEG's header segments, read without decoding:
 * the EXIF orientation, and whether an ICC profile is embedded (such pictures go through sharp, which
 * converts them to sRGB with it).
 */
export interface JpegMarkers {
  /** EXIF orientation 1 … 8 (1 when there is none or it cannot be read). */
  orientation: number;
  hasIccProfile: boolean;
}

const SOI = 0xd8;
const SOS = 0xda;
const APP1 = 0xe1;
const APP2 = 0xe2;
const ORIENTATION_TAG = 0x0112;

export const isJpeg = (bytes: Buffer): boolean => bytes.length > 3 && bytes[0] === 0xff && bytes[1] === SOI;

/** Walks the segments from SOI up to the first scan; a malformed header stops the walk (the decoder judges it). */
export function readJpegMarkers(bytes: Buffer): JpegMarkers {
  const found: JpegMarkers = { orientation: 1, hasIccProfile: false };
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === SOS) break;
    const length = bytes.readUInt16BE(at + 2);
    const body = bytes.subarray(at + 4, Math.min(bytes.length, at + 2 + length));
    if (marker === APP1 && body.subarray(0, 6).toString('latin1') === 'Exif\0\0') {
      found.orientation = exifOrientation(body.subarray(6)) ?? found.orientation;
    } else if (marker === APP2 && body.subarray(0, 12).toString('latin1') === 'ICC_PROFILE\0') {
      found.hasIccProfile = true;
    }
    at += 2 + length;
  }
  return found;
}

/** The orientation tag of IFD0 in a TIFF structure (EXIF's), or undefined. */
function exifOrientation(tiff: Buffer): number | undefined {
  if (tiff.length < 8) return undefined;
  const order = tiff.subarray(0, 2).toString('latin1');
  if (order !== 'II' && order !== 'MM') return undefined;
  const little = order === 'II';
  const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return undefined;
  const entries = u16(ifd);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return undefined;
    if (u16(entry) === ORIENTATION_TAG) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : undefined;
    }
  }
  return undefined;
}
