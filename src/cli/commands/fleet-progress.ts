import { ClusterConfig } from '../cli-config';
import { CliContext } from '../cli-context';
import { FleetOutcome, runFleet } from '../fleet-runner';
import { ProgressIndicator } from '../progress-indicator';

/** runFleet over clusters with the context's concurrency and timeout, a spinner on a terminal. */
export async function runFleetWithProgress<T>(
  ctx: CliContext,
  clusters: readonly ClusterConfig[],
  what: string,
  work: (cluster: ClusterConfig, signal: AbortSignal) => Promise<T>,
): Promise<FleetOutcome<T>[]> {
  const progress = ProgressIndicator.for(process.stderr, ctx.options.json);
  await progress.start(`${what}: 0/${clusters.length} clusters`);
  try {
    return await runFleet(
      clusters,
      { concurrency: ctx.options.concurrency, timeoutMs: ctx.options.timeoutMs, onSettled: (done, total) => progress.update(`${what}: ${done}/${total} clusters`) },
      work,
    );
  } finally {
    progress.stop();
  }
}
