import { statfs } from 'node:fs/promises';
/** A dependency the service needs in order to answer: a store, a broker, a loaded model. */
export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when the dependency answers; rejects (with a short reason) when it does not. */
  check(): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'ok' | string>;
}

const checkTimeoutMs = 2000;

export async function runReadinessChecks(checks: readonly ReadinessCheck[]): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), checkTimeoutMs);
      });
      try {
        await Promise.race([check(), timeout]);
        return [name, 'ok'] as const;
      } catch (err) {
        return [name, err instanceof Error ? err.message : 'failed'] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every(([, r]) => r === 'ok'), checks: Object.fromEntries(results) };
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
