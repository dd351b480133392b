import type { EventBus } from '../../ports/events';

/** Placeholder: replaced by the in-process bus. */
export function createInProcessEventBus(_options: { onError?: (err: unknown) => void } = {}): EventBus {
  throw new Error('not implemented');
}
