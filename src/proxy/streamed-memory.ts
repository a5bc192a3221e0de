import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's `gc()`: a full collection, or a young-generation one (a scavenge) with `{ type: 'minor' }`. */
export type V8Collect = (options?: { type: 'major' | 'minor' }) => void;

/** One context per process is enough: the first answer is kept. */
let found: { collect: V8Collect | undefined } | undefined;

/**
 * V8's collector, also when node was not started with --expose-gc: the flag is switched on just
 * long enough to create a fresh context, where V8 then defines `gc`, and switched off again, so
 * no other context (and not this one's global object) gains it. Undefined where V8 refuses.
 */
export function v8Collector(): V8Collect | undefined {
  if (found) return found.collect;
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') {
    found = { collect: exposed as V8Collect };
    return found.collect;
  }
  try {
    setFlagsFromString('--expose-gc');
    const collect: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    found = { collect: typeof collect === 'function' ? (collect as V8Collect) : undefined };
  } catch {
    found = { collect: undefined };
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return found.collect;
}

/** Bytes streamed between two young-generation collections. */
export const BYTES_PER_COLLECTION = 4 * 1024 * 1024;

/**
 * Keeps the memory a streamed body costs at a few MiB, whatever its length.
 *
 * node:http reads every socket read into a fresh buffer (64 KiB on a busy stream) outside V8's
 * heap; the relay hands it on and it is dead a moment later, but only freed when a collection
 * finds it so. A stream allocates little on V8's own heap, so young-generation collections come
 * rarely, and V8 starts a full one for such buffers only after some 64 MiB more (its external
 * memory limit): on this process's heap the marking then takes 30-50 ms, while more arrive. A 1 GiB download peaked 30-60 MiB
 * above its starting RSS that way. A scavenge frees the dead buffers as well and costs a fraction
 * of a millisecond (it visits only the young objects still alive), so the relay asks for one every
 * `bytesPerCollection` bytes streamed: the download then peaks a few MiB up, and runs faster.
 */
export class StreamedMemory {
  private sinceCollection = 0;

  constructor(
    private readonly collect: V8Collect | undefined,
    private readonly bytesPerCollection = BYTES_PER_COLLECTION,
  ) {}

  /** Counts bytes that have passed through; collects once enough have. */
  streamed(bytes: number): void {
    if ((this.sinceCollection += bytes) < this.bytesPerCollection) return;
    this.sinceCollection = 0;
    this.collect?.({ type: 'minor' });
  }
}
