/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `predicate` until it returns a truthy value, which is returned.
 * Rejects with `message` (or a generic one) after `timeoutMs`; a function message is called
 * then, so that it can tell the state at the deadline.
 */
export async function waitUntil<T>(
  predicate: () => T | Promise<T>,
  timeoutMs = 5000,
  opts: { intervalMs?: number; message?: string | (() => string) } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) {
      const message = typeof opts.message === 'function' ? opts.message() : opts.message;
      throw new Error(message ?? `condition not met within ${timeoutMs}ms`);
    }
    await sleep(opts.intervalMs ?? 10);
  }
}
