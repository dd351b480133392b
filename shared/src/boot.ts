import type { Express } from 'express';
import { z } from 'zod';
import { loadConfig, setting } from './config';
import { startEventLoopMonitor } from './event-loop';
import { type ReadinessCheck } from './health';
import { createHttpApp, Lifecycle } from './http';
import { createLogger, type Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { serverTimeouts, serverTimeoutsConfigShape } from './server';
import { exitOnStartupFailure, serve, type Closer } from './shutdown';

/** `false` (this process is the edge), `true`, a hop count, or a list of trusted proxy CIDRs. */
const trustProxySetting = z
  .string()
  .default('false')
  .transform((v): boolean | number | string[] => {
    if (v === 'true' || v === 'false') return v === 'true';
    if (/^\d+$/.test(v)) return Number(v);
    return v.split(',').map((s) => s.trim());
  });

/** What every process reads, whatever it runs: logging, proxy trust, readiness and shutdown. */
export const shellConfigShape = {
  LOG_LEVEL: setting.logLevel(),
  TRUST_PROXY: trustProxySetting,
  SHUTDOWN_TIMEOUT_MS: setting.positiveInt(10_000),
  ...serverTimeoutsConfigShape,
  /** /readyz fails while the event loop's p99 delay (last second) is over this; 0 = not checked. */
  READY_MAX_EVENT_LOOP_DELAY_MS: setting.nonNegativeInt(0),
  /** /readyz reports the disk as full below this much free space where the process writes. */
  MIN_FREE_DISK_BYTES: setting.nonNegativeInt(64 * 1024 * 1024),
};
export type ShellConfig = z.output<z.ZodObject<typeof shellConfigShape>>;

/** What every module of a process shares: its logger, metrics, lifecycle and HTTP shell settings. */
export interface Shell {
  config: ShellConfig;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
}

export function createShell(config: ShellConfig, name: string): Shell {
  // now, not when the apps are assembled after the stores open: see startEventLoopMonitor
  if (config.READY_MAX_EVENT_LOOP_DELAY_MS > 0) startEventLoopMonitor();
  return {
    config,
    logger: createLogger({ service: name, level: config.LOG_LEVEL }),
    metrics: createMetrics(),
    lifecycle: new Lifecycle(),
  };
}

/**
 * One part of a process (a "module" in Grafana Loki's sense): a service, or a piece of the local
 * process such as its web page. It mounts its routes, says what it needs to be ready, and what to
 * close on shutdown (in reverse order, after the HTTP server has drained).
 */
export interface Module {
  name: string;
  mount(app: Express): void;
  readiness: readonly ReadinessCheck[];
  closers: readonly Closer[];
  /** Paths whose bodies the module's routes read themselves (the shell's JSON parser skips them). */
  ownBodyPaths?: readonly string[];
  /** Directories the module writes to: readiness checks their free space. */
  storageDirs?: readonly string[];
}

/** The modules' routes on one HTTP shell (request ids, logs, metrics, health, errors), in order. */
export function createModulesApp(name: string, shell: Shell, modules: readonly Module[]): Express {
  return createHttpApp({
    name,
    logger: shell.logger,
    metrics: shell.metrics,
    lifecycle: shell.lifecycle,
    trustProxy: shell.config.TRUST_PROXY,
    maxEventLoopDelayMs: shell.config.READY_MAX_EVENT_LOOP_DELAY_MS,
    readiness: mergeByName(modules.flatMap((m) => m.readiness)),
    ownBodyPaths: modules.flatMap((m) => m.ownBodyPaths ?? []),
    storageDirs: [...new Set(modules.flatMap((m) => m.storageDirs ?? []))],
    minFreeDiskBytes: shell.config.MIN_FREE_DISK_BYTES,
    mount: (app) => modules.forEach((m) => m.mount(app)),
  });
}

/** Checks of the same name (every module's `metadata`) answer as one: ready only when all of them are. */
function mergeByName(checks: readonly ReadinessCheck[]): ReadinessCheck[] {
  const byName = new Map<string, ReadinessCheck[]>();
  for (const check of checks) byName.set(check.name, [...(byName.get(check.name) ?? []), check]);
  return [...byName].map(([name, same]) => ({
    name,
    check: async () => void (await Promise.all(same.map((c) => c.check()))),
    degradedOnly: same.every((c) => c.degradedOnly),
  }));
}

export const listenConfigShape = (port: number, host = '0.0.0.0') => ({
  PORT: setting.port(port),
  HOST: z.string().default(host),
});

/** A process to run (a "target"): its settings, and the modules it opens from them. */
export interface Target<C extends ShellConfig & { PORT: number; HOST: string }> {
  name: string;
  settings: z.ZodType<C>;
  open(config: C, shell: Shell): Promise<Module[]>;
  /** Extra fields of the "is listening" line. */
  announce?(config: C): Record<string, unknown>;
}

/**
 * The one boot sequence of every process: validate the target's settings (a wrong one stops it,
 * named), open its modules, serve their routes, and on SIGTERM drain and close them in reverse.
 */
export async function runTarget<C extends ShellConfig & { PORT: number; HOST: string }>(target: Target<C>) {
  const config = loadConfig(target.settings);
  const shell = createShell(config, target.name);
  const modules = await target.open(config, shell);
  serve(createModulesApp(target.name, shell, modules), {
    port: config.PORT,
    host: config.HOST,
    timeouts: serverTimeouts(config),
    listening: { service: target.name, ...target.announce?.(config) },
    lifecycle: shell.lifecycle,
    logger: shell.logger,
    drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers: modules.flatMap((m) => m.closers),
  });
}

/** What a `main.ts` is: run the target, or print why it cannot start and exit 1. */
export function main<C extends ShellConfig & { PORT: number; HOST: string }>(target: Target<C>): void {
  runTarget(target).catch(exitOnStartupFailure);
}
