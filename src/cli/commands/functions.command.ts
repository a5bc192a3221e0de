import { ClusterConfig } from '../cli-config';
import { CliContext } from '../cli-context';
import { FunctionSummary } from '../lib/gateway-client';
import { runFleetWithProgress } from './fleet-progress';

/** One cluster's entry of `fedgw functions --json`. */
export interface FunctionsRow {
  cluster: string;
  ok: boolean;
  functions?: FunctionSummary[];
  error?: string;
}

/** The fleet's functions through GraphQL `functions`, in one namespace or each cluster's default. */
export async function functionsCommand(ctx: CliContext, clusters: readonly ClusterConfig[], namespace: string | undefined): Promise<number> {
  const outcomes = await runFleetWithProgress(ctx, clusters, 'functions', async (cluster, signal) => {
    const token = await ctx.tokenSource(cluster).token({ signal });
    return ctx.gatewayClient(cluster, token.accessToken).functions(namespace, signal);
  });
  const rows = clusters.map((cluster, i): FunctionsRow => {
    const outcome = outcomes[i];
    return outcome?.ok
      ? { cluster: cluster.name, ok: true, functions: outcome.value }
      : { cluster: cluster.name, ok: false, error: outcome?.error ?? 'not run' };
  });
  if (ctx.options.json) {
    ctx.printJson(rows);
  } else {
    ctx.printTable(
      ['CLUSTER', 'NAMESPACE', 'NAME', 'IMAGE', 'REPLICAS', 'INVOCATIONS'],
      rows.flatMap((r) =>
        (r.functions ?? []).map((f) => [r.cluster, f.namespace ?? '-', f.name, f.image ?? '-', replicas(f), String(f.invocationCount ?? 0)]),
      ),
    );
    for (const r of rows) if (!r.ok) ctx.warn(`${r.cluster}: ${r.error}`);
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}

function replicas(f: FunctionSummary): string {
  if (f.replicas == null) return '-';
  return f.availableReplicas == null ? String(f.replicas) : `${f.availableReplicas}/${f.replicas}`;
}
