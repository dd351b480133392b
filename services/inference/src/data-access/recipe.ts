import sharp from 'sharp';
import type { ModelManifest } from '../domain/ports';
import { areaLetterbox, containedSize, loadAreaLetterbox, orient, type RgbImage } from './area-letterbox';
import { isJpeg, readJpegMarkers } from './jpeg-markers';
import { decodeJpegCovering, jpegHeader, loadTurboJpeg } from './turbojpeg';

/**
 * The manifest's preprocessing recipes, and nothing else: the model workers load this module, so it
 * imports only what decoding needs (a worker that loaded the service's whole module graph would carry
 * a 27 MB heap instead of 6, and pay for it in every full garbage collection). Errors here are plain;
 * `preprocess.ts` and the pool turn them into the service's.
 */

// sharp keeps recent operations in a cache (50 MB, 100 items by default) so that the same input asked
// again is cheaper. Predictions never ask twice (verdicts are cached by sha256 instead), so for them
// the cache only costs bookkeeping and memory on every picture.
sharp.cache(false);

/**
 * Bytes → the model's input, exactly as the manifest's recipe says (EXIF orientation applied, alpha
 * flattened onto white, sRGB, resized with the manifest's fit and background, raw RGB bytes), within
 * `maxPixels`. Throws if the picture cannot be read.
 */
export async function recipePixels(bytes: Buffer, model: ModelManifest, maxPixels: number): Promise<Uint8Array> {
  const pixels =
    model.resize.recipe === 'jpeg-scaled-area'
      ? await jpegScaledArea(bytes, model, maxPixels)
      : await sharpLanczos3(bytes, model, maxPixels);
  const { width, height } = model.resize;
  if (pixels.length !== width * height * 3) throw new Error('unexpected channel count');
  return pixels;
}

/** What the recipe needs beyond sharp, loaded now; throws, naming the part, if it cannot load. */
export function loadRecipe(model: ModelManifest): void {
  if (model.resize.recipe !== 'jpeg-scaled-area') return;
  const needs: [string, () => void][] = [
    ['libjpeg-turbo', loadTurboJpeg],
    ['the area letterbox (WebAssembly)', loadAreaLetterbox],
  ];
  for (const [what, load] of needs) {
    try {
      load();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(`${model.name}/${model.version}'s jpeg-scaled-area recipe: ${what}: ${reason}`, { cause: err });
    }
  }
}

/** v1 to v3: sharp decodes (JPEG shrink-on-load included) and letterboxes with Lanczos3. */
async function sharpLanczos3(bytes: Buffer, model: ModelManifest, maxPixels: number): Promise<Uint8Array> {
  const { width, height, fit, background } = model.resize;
  const resize = {
    width,
    height,
    fit,
    position: 'centre',
    background: { r: background[0], g: background[1], b: background[2] },
  };
  return (await sharpRgb(bytes, maxPixels, resize)).pixels;
}

/**
 * A JPEG in sRGB (no ICC profile, not CMYK) is decoded by libjpeg-turbo at the smallest k/8 of its size
 * that still covers the letterboxed size, then oriented and letterboxed with the area filter. Any other
 * picture is decoded whole by sharp (orientation, alpha onto white and the ICC profile applied), then
 * letterboxed the same way.
 */
async function jpegScaledArea(bytes: Buffer, model: ModelManifest, maxPixels: number): Promise<Uint8Array> {
  const box = model.resize;
  if (isJpeg(bytes)) {
    const header = jpegHeader(bytes);
    if (header.width * header.height > maxPixels)
      throw new Error(`${header.width}×${header.height} is over the pixel limit`);
    const markers = readJpegMarkers(bytes);
    if (header.rgb && !markers.hasIccProfile) {
      const turned = markers.orientation >= 5;
      const shown = containedSize(
        turned ? header.height : header.width,
        turned ? header.width : header.height,
        box.width,
        box.height,
      );
      const decoded = turned
        ? await decodeJpegCovering(bytes, header, shown.height, shown.width)
        : await decodeJpegCovering(bytes, header, shown.width, shown.height);
      return areaLetterbox(orient(decoded, markers.orientation), shown, box);
    }
  }
  const decoded = await sharpRgb(bytes, maxPixels);
  return areaLetterbox(decoded, containedSize(decoded.width, decoded.height, box.width, box.height), box);
}

/**
 * sharp's part of both recipes: EXIF orientation applied, alpha flattened onto white, 8-bit sRGB (with
 * any ICC profile), raw RGB; resized as given, or whole.
 */
async function sharpRgb(bytes: Buffer, maxPixels: number, resize?: sharp.ResizeOptions): Promise<RgbImage> {
  let image = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
    .rotate()
    .flatten({ background: '#ffffff' });
  if (resize) image = image.resize(resize);
  const { data, info } = await image.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${info.channels} channels after conversion to sRGB`);
  return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}
