import { statfs } from 'node:fs/promises';
/** A dependency the service needs in order to answer: a store, a broker, a loaded model. */
export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when the dependency answers; rejects (with a short reason) when it does not. */
  check(): Promise<void>;
  /**
   * A dependency the service does without, serving less (e.g. users for an account check): its
   * failure is reported and the status says `degraded`, but the process stays ready, since taking
   * every replica out of rotation would turn a partial outage into a whole one.
   */
  readonly degradedOnly?: boolean;
}

export interface ReadinessReport {
  ready: boolean;
  /** Ready, but a `degradedOnly` check failed. */
  degraded: boolean;
  checks: Record<string, 'ok' | string>;
}

const checkTimeoutMs = 2000;

export async function runReadinessChecks(checks: readonly ReadinessCheck[]): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async ({ name, check, degradedOnly = false }) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), checkTimeoutMs);
      });
      try {
        await Promise.race([check(), timeout]);
        return [name, 'ok', degradedOnly] as const;
      } catch (err) {
        return [name, err instanceof Error ? err.message : 'failed', degradedOnly] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const failed = results.filter(([, r]) => r !== 'ok');
  return {
    ready: failed.every(([, , degradedOnly]) => degradedOnly),
    degraded: failed.length > 0,
    checks: Object.fromEntries(results.map(([name, r]) => [name, r])),
  };
}

const mib = (bytes: number) => `${Math.floor(bytes / (1024 * 1024))} MiB`;

/**
 * Reports a disk that is (nearly) full under any of the directories the process writes to, so an
 * operator and the gateway see it before writes fail. A directory that does not exist yet is skipped.
 */
export function freeSpaceCheck(dirs: readonly string[], minFreeBytes: number): ReadinessCheck {
  return {
    name: 'disk',
    async check() {
      for (const dir of new Set(dirs)) {
        const stats = await statfs(dir).catch(() => null);
        if (!stats) continue;
        const free = stats.bavail * stats.bsize;
        if (free < minFreeBytes) throw new Error(`full: ${mib(free)} free under ${dir} (minimum ${mib(minFreeBytes)})`);
      }
    },
  };
}
