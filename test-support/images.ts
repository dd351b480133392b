import { randomBytes } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** A noisy picture, so encoders cannot shrink it to nothing and each call gives different bytes. */
async function noisy(width: number, height: number) {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } });
}

export const jpeg = async (width = 64, height = 48, quality = 80) =>
  (await noisy(width, height)).jpeg({ quality }).toBuffer();
export const png = async (width = 64, height = 48) => (await noisy(width, height)).png().toBuffer();
export const webp = async (width = 64, height = 48) => (await noisy(width, height)).webp().toBuffer();

/** A JPEG whose EXIF says "rotate 90°": displayed, it is taller than it is stored. */
export const rotatedJpeg = async (width = 80, height = 40) =>
  (await noisy(width, height)).jpeg().withMetadata({ orientation: 6 }).toBuffer();

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A tiny, well-formed PNG whose header declares width × height pixels: a decompression bomb. */
export function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(2, 9); // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
