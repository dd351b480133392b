import { AppError } from './errors';
import type { ImageFormat } from './ports/events';

/**
 * The type of a picture is decided by its first bytes, never by its name or the client's content type
 * (OWASP File Upload). Three signatures need no library.
 */
export function detectFormat(bytes: Buffer): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(pngSignature)) return 'png';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') {
    return 'webp';
  }
  return null;
}

/** The format of a picture we accept, or the refusal: no bytes (400), not JPEG, PNG or WebP (415). */
export function acceptedFormat(bytes: Buffer): ImageFormat {
  if (bytes.length === 0) throw new AppError('invalid', 'empty_file', 'the file is empty');
  const format = detectFormat(bytes);
  if (!format) {
    throw new AppError(
      'unsupported_media_type',
      'unsupported_image_type',
      'only JPEG, PNG and WebP images are accepted',
    );
  }
  return format;
}

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export const mimeTypeOf: Record<ImageFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };
