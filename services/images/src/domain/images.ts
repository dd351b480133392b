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
import { removeUnreferencedBlob } from './blob-removal';
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
      // The blob before the record, so a record is never seen without it.
      await this.storeBlob(record, bytes);
      let created;
      try {
        created = await this.deps.images.create(record);
      } catch (err) {
        await this.dropBlobIfUnreferenced(record.sha256, bytes);
        throw err;
      }
      // The count rose from 0: a delete of the last twin may be removing the blob right now. If its
      // delete already happened the blob is missing and goes back here; if it comes later, the
      // delete sees this record's count and puts the blob back itself (removeUnreferencedBlob).
      if (created.firstReference) await this.storeBlob(record, bytes);
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
    const deleted = id && (await this.deps.images.deleteOwned(id, principal.userId));
    if (!deleted) throw imageNotFound();
    const { record, lastReference } = deleted;
    if (lastReference) await this.dropBlobIfUnreferenced(record.sha256);
    await this.publish({
      type: 'image.deleted',
      eventId: newId(),
      imageId: record.id,
      ownerId: record.ownerId,
      sha256: record.sha256,
      lastCopy: lastReference,
    });
  }

  private async storeBlob(record: ImageRecord, bytes: Buffer): Promise<void> {
    const key = blobKeyForSha256(record.sha256);
    if (await this.deps.blobs.exists(key)) return;
    await this.deps.blobs.put(key, bytes, mimeTypeOf[record.format]);
    this.deps.telemetry.blobBytesWritten(bytes.length);
  }

  /**
   * Identical bytes are stored once; the blob goes when the count of records that point at it
   * reaches 0. A failure leaves an orphan blob (which the sweeper reports), never a lost one.
   */
  private async dropBlobIfUnreferenced(sha256: string, knownBytes?: Buffer): Promise<void> {
    try {
      if ((await this.deps.images.referencesTo(sha256)) > 0) return;
      await removeUnreferencedBlob(this.deps, sha256, knownBytes);
    } catch (err) {
      this.deps.logger.error({ err, sha256 }, 'could not remove an unreferenced blob');
    }
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
