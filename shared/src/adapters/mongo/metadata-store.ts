import type { MetadataStore } from '../../ports/metadata';

/** Placeholder replaced by the mongoose adapter. */
export async function createMongoMetadataStore(_url: string): Promise<MetadataStore> {
  throw new Error('not implemented');
}
