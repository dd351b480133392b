/**
 * Where image bytes live. Keys are chosen by the caller (content-addressed: the sha256), so a put of
 * a key that exists writes the same bytes again and is harmless.
 */
export interface BlobStore {
  /** Stores the bytes under the key, atomically: a reader sees all of them or none. */
  put(key: BlobKey, bytes: Buffer, contentType: string): Promise<void>;
  /** The bytes, or null when there is no such blob. */
  get(key: BlobKey): Promise<Buffer | null>;
  exists(key: BlobKey): Promise<boolean>;
  /** Removes the blob; removing one that is not there is not an error. */
  delete(key: BlobKey): Promise<void>;
  /** Every blob with when it was last written, in no particular order; anything else in the store is skipped. */
  list(): AsyncIterable<StoredBlob>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface StoredBlob {
  key: BlobKey;
  modifiedAt: Date;
}

declare const blobKeyBrand: unique symbol;
/** `sha256/<64 hex>`: the only shape of key the stores accept, so no path or bucket trickery can pass. */
export type BlobKey = string & { readonly [blobKeyBrand]: true };

const sha256Hex = /^[0-9a-f]{64}$/;
export function blobKeyForSha256(sha256: string): BlobKey {
  if (!sha256Hex.test(sha256)) throw new Error('not a sha256 hex digest');
  return `sha256/${sha256}` as BlobKey;
}
export function isBlobKey(key: string): key is BlobKey {
  return key.startsWith('sha256/') && sha256Hex.test(key.slice('sha256/'.length));
}
