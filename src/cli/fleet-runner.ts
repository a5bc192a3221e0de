import { formatDuration } from '../config/duration';
import { FedgwError } from './lib/fedgw-error';

const ABORT_GRACE_MS = 200;

export type FleetOutcome<T> = { ok: true; value: T } | { ok: false; error: string };

export interface FleetOptions {
  concurrency: number;
  /** For each item's whole exchange (token and call). */
  timeoutMs: number;
  /** Called as each item finishes (a progress indicator). */
  onSettled?: (done: number, total: number) => void;
}

/**
 * Runs `work` on every item, at most `concurrency` at once, each under its own deadline; a
 * failure is that item's outcome, never the others'. Outcomes come back in the items' order.
 */
export async function runFleet<I, T>(items: readonly I[], options: FleetOptions, work: (item: I, signal: AbortSignal) => Promise<T>): Promise<FleetOutcome<T>[]> {
  const outcomes: FleetOutcome<T>[] = new Array(items.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      outcomes[index] = await withDeadline(options.timeoutMs, (signal) => work(items[index] as I, signal));
      options.onSettled?.(++done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, options.concurrency), items.length) }, worker));
  return outcomes;
}

/** One exchange under a deadline: aborts its requests and, should anything ignore the signal, stops waiting. */
export async function withDeadline<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<FleetOutcome<T>> {
  const controller = new AbortController();
  const limit = formatDuration(timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<FleetOutcome<T>>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new DOMException(`timed out after ${limit}`, 'TimeoutError'));
      // A moment for the aborted exchange to say which step it was in.
      timer = setTimeout(() => resolve({ ok: false, error: `timed out after ${limit}` }), ABORT_GRACE_MS);
    }, timeoutMs);
  });
  const attempt = work(controller.signal).then(
    (value): FleetOutcome<T> => ({ ok: true, value }),
    (err: unknown): FleetOutcome<T> => ({ ok: false, error: describeError(err, limit) }),
  );
  try {
    return await Promise.race([attempt, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function describeError(err: unknown, limit: string): string {
  if (err instanceof FedgwError) return err.kind === 'timeout' ? `${err.message} (after ${limit})` : err.message;
  return err instanceof Error ? err.message : String(err);
}
