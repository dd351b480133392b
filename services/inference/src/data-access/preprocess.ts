import { AppError } from '@capcheck/shared';
import type { ModelManifest } from '../domain/ports';
import { ModelLoadError } from './model-repository';
import { loadRecipe, recipePixels } from './recipe';

/**
 * Bytes → the model's input, exactly as the manifest's recipe says (`recipe.ts`), with the same decode
 * limits as the images service; a picture that cannot be read is a 422.
 */
export async function preprocess(bytes: Buffer, model: ModelManifest, maxPixels: number): Promise<Uint8Array> {
  try {
    return await recipePixels(bytes, model, maxPixels);
  } catch (err) {
    throw undecodable(err);
  }
}

/** A picture that cannot be decoded, as the client hears it; the logs keep why. */
export const undecodable = (cause: unknown): AppError =>
  new AppError('unprocessable', 'corrupt_image', 'the image cannot be decoded', { cause });

/**
 * Loads what the manifest's recipe needs, so that a library that cannot load stops the model from
 * loading (readiness names it) instead of failing every picture.
 */
export function prepareRecipe(model: ModelManifest): void {
  try {
    loadRecipe(model);
  } catch (err) {
    throw new ModelLoadError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}
