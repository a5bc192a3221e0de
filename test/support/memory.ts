/**
 * A full garbage collection. The test command starts node with --expose-gc for this (tests only:
 * the gateway itself never forces one).
 */
export function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') throw new Error('gc() is not exposed: run the tests with node --expose-gc (npm test does)');
  // Twice: the first pass runs finalizers whose objects the second one frees.
  gc();
  gc();
}

/** Heap in use after a full collection, in bytes: what the process really holds on to. */
export function liveHeapBytes(): number {
  forceGc();
  return process.memoryUsage().heapUsed;
}

export const MiB = 1024 * 1024;
