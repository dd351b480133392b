import type { ImageId, UserId } from '../ids';

/** The events between services, on the topic exchange `capcheck.events` (routing key = `type`). */
export interface ImageUploaded {
  type: 'image.uploaded';
  /** Unique per event, so consumers can recognise a redelivered duplicate. */
  eventId: string;
  imageId: ImageId;
  ownerId: UserId;
  sha256: string;
  objectKey: string;
  format: ImageFormat;
  createdAt: string;
}
export interface ImageDeleted {
  type: 'image.deleted';
  eventId: string;
  imageId: ImageId;
  ownerId: UserId;
  sha256: string;
  /**
   * No image record points at these bytes any more: whoever keeps something per sha256 (inference's
   * verdicts) may drop it. Carried here so no other service has to read the images table.
   */
  lastCopy: boolean;
}
export type CapcheckEvent = ImageUploaded | ImageDeleted;
export type EventType = CapcheckEvent['type'];
export type ImageFormat = 'jpeg' | 'png' | 'webp';
export const imageFormats = ['jpeg', 'png', 'webp'] as const satisfies readonly ImageFormat[];

/**
 * What a handler says about a message. Throwing counts as `retry`. After `maxAttempts` tries, or
 * when a message cannot even be parsed (poison), it goes to the dead-letter queue.
 */
export type HandlerOutcome = 'ack' | 'retry';

export interface Subscription {
  /** A durable queue name; consumers sharing it share the work (competing consumers). */
  queue: string;
  types: EventType[];
  handle(event: CapcheckEvent): Promise<HandlerOutcome | void>;
  /** Tries before a message is dead-lettered (default 5). */
  maxAttempts?: number;
}

/** Why a message left its queue for the dead-letter queue. */
export type DeadLetterReason = 'unreadable' | 'attempts_exhausted';

/** Told about every dead-lettered message, so a growing dead-letter queue shows up in metrics. */
export type DeadLetterObserver = (queue: string, reason: DeadLetterReason) => void;

export interface EventBus {
  /** Resolves once the broker has the message (publisher confirm); rejects if it cannot be sure. */
  publish(event: CapcheckEvent): Promise<void>;
  subscribe(subscription: Subscription): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
