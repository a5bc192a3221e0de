import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

/**
 * A full garbage collection, also when the runner did not start node with --expose-gc: the flag
 * is switched on at run time and `gc` taken from a fresh context, where V8 then defines it.
 */
export function forceGc(): void {
  if (!collect) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) {
      collect = exposed;
    } else {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    }
  }
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
