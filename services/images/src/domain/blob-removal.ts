import { blobKeyForSha256, detectFormat, mimeTypeOf, type BlobStore } from '@capcheck/shared';
import type { ImageRepository } from './ports';

/**
 * Removes the blob of bytes whose reference count was seen at 0, without ever leaving a record
 * without its blob.
 *
 * The blob store is not in the records' transaction, so an upload of the same bytes can commit its
 * record (raising the count from 0) while this runs. Two rules make every interleaving safe:
 * - the uploader whose transaction raised the count from 0 makes sure the blob exists afterwards
 *   (ImagesDomain.upload), so a removal that finished before its commit cannot hurt it;
 * - this removal reads the bytes first, deletes, then reads the count again: if an upload committed
 *   in between, its check for the blob may have come before the delete, so the bytes are put back.
 * Whichever of the two comes last at the store writes the blob, and both write the same bytes.
 * A blob already gone when read is left alone: a blob that appears after that was put by an uploader,
 * which owns it. What remains is a moment, between this delete and its put-back, in which a read of
 * the racing upload's content can answer 404; the next read finds the bytes, and none are lost.
 *
 * Returns whether the blob was removed (false when it was put back or was not there).
 */
export async function removeUnreferencedBlob(
  deps: { images: ImageRepository; blobs: BlobStore },
  sha256: string,
  knownBytes?: Buffer,
): Promise<boolean> {
  const key = blobKeyForSha256(sha256);
  const bytes = knownBytes ?? (await deps.blobs.get(key));
  if (!bytes) return false;
  await deps.blobs.delete(key);
  if ((await deps.images.referencesTo(sha256)) === 0) return true;
  const format = detectFormat(bytes);
  await deps.blobs.put(key, bytes, format ? mimeTypeOf[format] : 'application/octet-stream');
  return false;
}
