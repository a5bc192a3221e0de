import { V8Collect, v8Collector } from '../../src/proxy/streamed-memory';

let collect: V8Collect | undefined;

/** A full garbage collection, also when the runner did not start node with --expose-gc. */
export function forceGc(): void {
  collect ??= v8Collector();
  if (!collect) throw new Error('V8 does not offer gc() in this process');
  // Twice: the first pass runs finalizers whose objects the second one frees.
  collect();
  collect();
}

/** Heap in use after a full collection, in bytes: what the process really holds on to. */
export function liveHeapBytes(): number {
  forceGc();
  return process.memoryUsage().heapUsed;
}

export const MiB = 1024 * 1024;
