import type { Express } from 'express';
import {
  allowlistOnly,
  createHttpApp,
  parseAllowlist,
  type Lifecycle,
  type Logger,
  type Metrics,
} from '@capcheck/shared';
import { createUsersService, type UsersDeps } from '@capcheck/users';
import type { LocalConfig } from './config';

export interface LocalDeps extends Omit<UsersDeps, 'config'> {
  config: LocalConfig;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
}

/**
 * Every service in one Express app, on the same paths the gateway exposes. Each service contributes
 * its router; the shell (logs, metrics, health, errors) is shared, and /admin is allow-listed here as
 * the gateway does in production.
 */
export function createLocalApp(deps: LocalDeps): Express {
  const users = createUsersService(deps);
  const adminAllowlist = parseAllowlist(deps.config.ADMIN_ALLOWLIST);
  return createHttpApp({
    name: 'local',
    logger: deps.logger,
    metrics: deps.metrics,
    lifecycle: deps.lifecycle,
    trustProxy: deps.config.TRUST_PROXY,
    readiness: [
      { name: 'metadata', check: () => deps.metadata.ping() },
      { name: 'rate-limits', check: () => deps.rateLimiters.ping() },
    ],
    mount(app) {
      app.use('/admin', allowlistOnly(adminAllowlist));
      app.use(users.router);
    },
  });
}
