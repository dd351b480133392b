import type {
  BlobStore,
  EventBus,
  ImageFormat,
  ImageId,
  Logger,
  Page,
  PageRequest,
  StoreLifecycle,
  UserId,
} from '@capcheck/shared';

export interface ImageRecord {
  id: ImageId;
  ownerId: UserId;
  /** The client's file name, sanitised; metadata only, never used as a path or key. */
  filename: string;
  format: ImageFormat;
  /** Display dimensions, after EXIF orientation. */
  width: number;
  height: number;
  sizeBytes: number;
  sha256: string;
  /** Where the bytes are in the blob store (content-addressed: shared by identical uploads). */
  objectKey: string;
  createdAt: Date;
}

/**
 * What `create` tells about the bytes' reference count: `firstReference` when the count rose from 0
 * in the same transaction as the record was written, so a delete of the last twin may be removing
 * the blob at this very moment and the uploader must make sure it is there.
 */
export interface CreatedImage {
  firstReference: boolean;
}

/** What `deleteOwned` removed; `lastReference` when the bytes' count fell to 0 with it. */
export interface DeletedImage {
  record: ImageRecord;
  lastReference: boolean;
}

/**
 * Image records, and per sha256 the number of records that point at its bytes (a reference count
 * kept with the records, in the same transaction as each insert and delete). The count never falls
 * below the number of records: whoever sees it reach 0 knows no record needs the blob at that moment.
 */
export interface ImageRepository {
  create(image: ImageRecord): Promise<CreatedImage>;
  /** Only the owner's image: another user's id is the same as an unknown one. */
  findOwned(id: ImageId, ownerId: UserId): Promise<ImageRecord | null>;
  /** The owner's images, newest first. */
  listOwned(ownerId: UserId, page: PageRequest): Promise<Page<ImageRecord>>;
  /** Deletes the owner's image and returns it, or null if there was none. */
  deleteOwned(id: ImageId, ownerId: UserId): Promise<DeletedImage | null>;
  /** The reference count of these bytes: 0 means no record needs the blob. */
  referencesTo(sha256: string): Promise<number>;
  /** How many records (any owner) point at these bytes, counted from the records themselves. */
  countBySha256(sha256: string): Promise<number>;
  /** Every sha256 some record points at, each once, in no particular order (for the sweeper). */
  referencedSha256s(): AsyncIterable<string>;
}

/** Everything the images service keeps (the bytes live in the blob store). */
export interface ImagesStore extends StoreLifecycle {
  readonly images: ImageRepository;
}

export interface DecodedImage {
  format: ImageFormat;
  /** Display dimensions, after EXIF orientation. */
  width: number;
  height: number;
}

/** Reads and fully decodes an image, within limits; rejects with an `unprocessable` AppError. */
export interface ImageDecoder {
  inspect(bytes: Buffer, expected: ImageFormat): Promise<DecodedImage>;
}

export type UploadOutcome =
  'created' | 'empty' | 'too_large' | 'unsupported_type' | 'corrupt' | 'too_many_pixels' | 'invalid_request' | 'error';

/** What the domain reports for metrics; the HTTP layer implements it with prom-client. */
export interface ImagesTelemetry {
  upload(outcome: UploadOutcome, format: ImageFormat | 'unknown', seconds: number): void;
  blobBytesWritten(bytes: number): void;
  eventPublished(type: string, ok: boolean): void;
}

/** What the images domain works with. */
export interface ImagesDomainDeps {
  images: ImageRepository;
  blobs: BlobStore;
  events: EventBus;
  decoder: ImageDecoder;
  telemetry: ImagesTelemetry;
  logger: Logger;
  clock: { now(): Date };
}
