import { formatDuration } from '../../config/duration';
import { ClusterConfig } from '../cli-config';
import { CliContext } from '../cli-context';
import { runFleetWithProgress } from './fleet-progress';
import type { GatewayStatus } from '../lib/gateway-client';

/** One cluster's line of `fedgw status --json`. */
export interface StatusRow {
  cluster: string;
  ok: boolean;
  gateway: string;
  version?: string;
  openfaas?: { healthy: boolean; version: string | null; error: string | null };
  tokenExpiresInSeconds?: number | null;
  latencyMs?: number;
  error?: string;
}

/** Every cluster at once: a token, then gatewayStatus; exit 1 when any cluster failed. */
export async function statusCommand(ctx: CliContext, clusters: readonly ClusterConfig[]): Promise<number> {
  const outcomes = await runFleetWithProgress(ctx, clusters, 'status', async (cluster, signal) => {
    const token = await ctx.tokenSource(cluster).token({ signal });
    const started = performance.now();
    const status = await ctx.gatewayClient(cluster, token.accessToken).gatewayStatus(signal);
    return { status, expiresAt: token.expiresAt, latencyMs: Math.round(performance.now() - started) };
  });
  const rows = clusters.map((cluster, i): StatusRow => {
    const outcome = outcomes[i];
    if (!outcome?.ok) return { cluster: cluster.name, ok: false, gateway: cluster.gateway, error: outcome?.error ?? 'not run' };
    const { status, expiresAt, latencyMs } = outcome.value;
    const row: StatusRow = {
      cluster: cluster.name,
      ok: status.upstream.healthy,
      gateway: cluster.gateway,
      version: status.version,
      openfaas: { healthy: status.upstream.healthy, version: status.upstream.version, error: status.upstream.error },
      tokenExpiresInSeconds: expiresAt === undefined ? null : Math.round((expiresAt - Date.now()) / 1000),
      latencyMs,
    };
    if (!status.upstream.healthy) row.error = unhealthy(status);
    return row;
  });
  if (ctx.options.json) {
    ctx.printJson(rows);
  } else {
    ctx.printTable(
      ['CLUSTER', 'OK', 'GATEWAY VERSION', 'OPENFAAS', 'TOKEN EXPIRES IN', 'LATENCY', 'ERROR'],
      rows.map((r) => [
        r.cluster,
        r.ok ? 'yes' : 'NO',
        r.version ?? '-',
        r.openfaas ? `${r.openfaas.healthy ? 'healthy' : 'unhealthy'} ${r.openfaas.version ?? ''}`.trim() : '-',
        r.tokenExpiresInSeconds == null ? '-' : formatDuration(r.tokenExpiresInSeconds * 1000),
        r.latencyMs === undefined ? '-' : `${r.latencyMs}ms`,
        r.error ?? '',
      ]),
    );
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}

function unhealthy(status: GatewayStatus): string {
  return `OpenFaaS gateway ${status.upstream.url} unhealthy${status.upstream.error ? `: ${status.upstream.error}` : ''}`;
}
