/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `predicate` until it returns a truthy value, which is returned.
 * Rejects with `message` (or a generic one) after `timeoutMs`.
 */
export async function waitUntil<T>(
  predicate: () => T | Promise<T>,
  timeoutMs = 5000,
  opts: { intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) {
      throw new Error(opts.message ?? `condition not met within ${timeoutMs}ms`);
    }
    await sleep(opts.intervalMs ?? 10);
  }
}
