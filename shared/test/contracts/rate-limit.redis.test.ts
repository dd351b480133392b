import { createRedisRateLimiters } from '@capcheck/shared';
import { rateLimitContract } from './rate-limit.contract';
import { suiteFor, tcpUnreachable } from '../../../test-support/http';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

suiteFor(`rate-limit port: Redis adapter (${url})`, 'redis', tcpUnreachable(url), () => {
  rateLimitContract(async () => createRedisRateLimiters(url, `capcheck-test:${process.pid}`));
});
