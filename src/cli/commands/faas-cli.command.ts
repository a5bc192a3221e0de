import { ClusterConfig } from '../cli-config';
import { CliContext } from '../cli-context';
import { findFaasCli, runFaasCli } from '../faas-cli-runner';
import { withDeadline } from '../fleet-runner';

/** faas-cli against one cluster with a fresh or cached token; its exit code is the result. */
export async function faasCliCommand(ctx: CliContext, cluster: ClusterConfig, args: readonly string[]): Promise<number> {
  const binary = findFaasCli(ctx.env);
  const outcome = await withDeadline(ctx.options.timeoutMs, (signal) => ctx.tokenSource(cluster).token({ signal }));
  if (!outcome.ok) {
    ctx.warn(`${cluster.name}: ${outcome.error}`);
    return 1;
  }
  const exit = await runFaasCli(binary, args, cluster.gateway, outcome.value.accessToken, ctx.env);
  if (exit.signal) {
    // Die of the same signal, so that the shell sees what happened to faas-cli.
    process.kill(process.pid, exit.signal);
    return 128;
  }
  return exit.code ?? 1;
}
