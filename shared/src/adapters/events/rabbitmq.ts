import type { EventBus } from '../../ports/events';
import type { Logger } from '../../logger';

export interface RabbitMqOptions {
  url: string;
  /** Defaults to `capcheck.events`. */
  exchange?: string;
  logger: Logger;
}

/** Placeholder: replaced by the RabbitMQ adapter. */
export async function createRabbitMqEventBus(_options: RabbitMqOptions): Promise<EventBus> {
  throw new Error('not implemented');
}
