/**
 * Waits for something the system does by itself (an event consumed, a target scraped, a check turning):
 * polls `probe` until it returns a value other than undefined or null, and returns that value. It is not
 * a sleep: it returns as soon as the condition holds, and fails naming `what` at the deadline.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | null | undefined | Promise<T | null | undefined>,
  options: {
    timeoutMs?: number;
    intervalMs?: number;
    /** A probe that throws counts as "not yet" (a server that is still starting). */
    ignoreErrors?: boolean;
  } = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 20, ignoreErrors = false } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null) return value;
    } catch (err) {
      if (!ignoreErrors) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
