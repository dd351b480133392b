import { createMemoryRateLimiters } from '@capcheck/shared';
import { rateLimitContract } from './rate-limit.contract';

describe('rate-limit port: in-memory adapter', () => {
  rateLimitContract(async () => createMemoryRateLimiters());
});
