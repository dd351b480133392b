import type { BlobStore, EventBus, ImageFormat, ImageRepository, Logger } from '@capcheck/shared';

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

export interface ImagesDeps {
  images: ImageRepository;
  blobs: BlobStore;
  events: EventBus;
  decoder: ImageDecoder;
  telemetry: ImagesTelemetry;
  logger: Logger;
  clock: { now(): Date };
}
