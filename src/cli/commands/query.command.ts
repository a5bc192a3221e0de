import { ClusterConfig } from '../cli-config';
import { CliContext } from '../cli-context';
import { GraphqlError } from '../lib/gateway-client';
import { runFleetWithProgress } from './fleet-progress';

/** One cluster's value in the object `fedgw query` prints. */
export interface QueryResult {
  ok: boolean;
  data?: unknown;
  errors?: GraphqlError[];
  error?: string;
}

/** One GraphQL document on each cluster; always JSON, keyed by cluster name. */
export async function queryCommand(ctx: CliContext, clusters: readonly ClusterConfig[], query: string, variables?: Record<string, unknown>): Promise<number> {
  const outcomes = await runFleetWithProgress(ctx, clusters, 'query', async (cluster, signal) => {
    const token = await ctx.tokenSource(cluster).token({ signal });
    return ctx.gatewayClient(cluster, token.accessToken).request(query, variables, signal);
  });
  const results: Record<string, QueryResult> = {};
  clusters.forEach((cluster, i) => {
    const outcome = outcomes[i];
    if (!outcome?.ok) {
      results[cluster.name] = { ok: false, error: outcome?.error ?? 'not run' };
      return;
    }
    const { data, errors } = outcome.value;
    results[cluster.name] = errors?.length
      ? { ok: false, data, errors, error: errors.map((e) => e.message).join('; ') }
      : { ok: true, data };
  });
  ctx.printJson(results);
  return Object.values(results).every((r) => r.ok) ? 0 : 1;
}
