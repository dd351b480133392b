import { createHash } from 'node:crypto';
import {
  AppError,
  acceptedFormat,
  blobKeyForSha256,
  detectFormat,
  mimeTypeOf,
  newId,
  type CapcheckEvent,
  type ImageId,
  type Page,
  type PageRequest,
  type Principal,
} from '@capcheck/shared';
import { sanitizeFilename } from './formats';
import type { ImageRecord, ImagesDomainDeps, UploadOutcome } from './ports';

export interface Upload {
  bytes: Buffer;
  originalName?: string;
}

const imageNotFound = () => new AppError('not_found', 'not_found', 'image not found');

/** Upload, read and delete images; every read and delete is scoped to the caller. */
export class ImagesDomain {
  constructor(private readonly deps: ImagesDomainDeps) {}

  async upload(principal: Principal, upload: Upload): Promise<ImageRecord> {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    const { bytes } = upload;
    const sniffed = detectFormat(bytes); // the telemetry label, refused or not
    try {
      const format = acceptedFormat(bytes);
      const decoded = await this.deps.decoder.inspect(bytes, format);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const objectKey = blobKeyForSha256(sha256);
      const record: ImageRecord = {
        id: newId<ImageId>(),
        ownerId: principal.userId,
        filename: sanitizeFilename(upload.originalName),
        format,
        width: decoded.width,
        height: decoded.height,
        sizeBytes: bytes.length,
        sha256,
        objectKey,
        createdAt: this.deps.clock.now(),
      };
      await this.storeBlob(record, bytes);
      try {
        await this.deps.images.create(record);
      } catch (err) {
        await this.dropBlobIfUnreferenced(record);
        throw err;
      }
      // A delete of the last twin may have removed the blob between our put and our insert: put it back.
      await this.storeBlob(record, bytes);
      this.deps.telemetry.upload('created', format, seconds());
      await this.publish({
        type: 'image.uploaded',
        eventId: newId(),
        imageId: record.id,
        ownerId: record.ownerId,
        sha256,
        objectKey,
        format,
        createdAt: record.createdAt.toISOString(),
      });
      return record;
    } catch (err) {
      this.deps.telemetry.upload(outcomeOf(err), sniffed ?? 'unknown', seconds());
      throw err;
    }
  }

  list(principal: Principal, page: PageRequest): Promise<Page<ImageRecord>> {
    return this.deps.images.listOwned(principal.userId, page);
  }

  async get(principal: Principal, id: ImageId | null): Promise<ImageRecord> {
    const record = id && (await this.deps.images.findOwned(id, principal.userId));
    if (!record) throw imageNotFound();
    return record;
  }

  /** The record and its bytes; what inference reads, on behalf of the same caller. */
  async content(
    principal: Principal,
    id: ImageId | null,
  ): Promise<{ record: ImageRecord; bytes: Buffer; mimeType: string }> {
    const record = await this.get(principal, id);
    const bytes = await this.deps.blobs.get(blobKeyForSha256(record.sha256));
    if (!bytes) {
      this.deps.logger.error({ imageId: record.id, sha256: record.sha256 }, 'image record without its blob');
      throw imageNotFound();
    }
    return { record, bytes, mimeType: mimeTypeOf[record.format] };
  }

  async delete(principal: Principal, id: ImageId | null): Promise<void> {
    const record = id && (await this.deps.images.deleteOwned(id, principal.userId));
    if (!record) throw imageNotFound();
    const lastCopy = await this.dropBlobIfUnreferenced(record);
    await this.publish({
      type: 'image.deleted',
      eventId: newId(),
      imageId: record.id,
      ownerId: record.ownerId,
      sha256: record.sha256,
      lastCopy,
    });
  }

  private async storeBlob(record: ImageRecord, bytes: Buffer): Promise<void> {
    const key = blobKeyForSha256(record.sha256);
    if (await this.deps.blobs.exists(key)) return;
    await this.deps.blobs.put(key, bytes, mimeTypeOf[record.format]);
    this.deps.telemetry.blobBytesWritten(bytes.length);
  }

  /**
   * Identical bytes are stored once; the blob goes when the last record that points at it goes.
   * Returns whether that record was the last (false when that could not be told: nothing is dropped).
   */
  private async dropBlobIfUnreferenced(record: ImageRecord): Promise<boolean> {
    let lastCopy = false;
    try {
      lastCopy = (await this.deps.images.countBySha256(record.sha256)) === 0;
      if (lastCopy) await this.deps.blobs.delete(blobKeyForSha256(record.sha256));
    } catch (err) {
      this.deps.logger.error({ err, sha256: record.sha256 }, 'could not remove an unreferenced blob');
    }
    return lastCopy;
  }

  /** Events speed things up; they are never the only copy of a fact, so a broker outage never fails a request. */
  private async publish(event: CapcheckEvent): Promise<void> {
    try {
      await this.deps.events.publish(event);
      this.deps.telemetry.eventPublished(event.type, true);
    } catch (err) {
      this.deps.telemetry.eventPublished(event.type, false);
      this.deps.logger.warn({ err, eventType: event.type, imageId: event.imageId }, 'event not published');
    }
  }
}

function outcomeOf(err: unknown): UploadOutcome {
  if (!(err instanceof AppError)) return 'error';
  switch (err.code) {
    case 'empty_file':
      return 'empty';
    case 'unsupported_image_type':
      return 'unsupported_type';
    case 'too_many_pixels':
      return 'too_many_pixels';
    case 'corrupt_image':
      return 'corrupt';
    default:
      return 'invalid_request';
  }
}
