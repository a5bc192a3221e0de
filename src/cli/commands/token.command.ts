import { ClusterConfig } from '../cli-config';
import { CliContext } from '../cli-context';
import { withDeadline } from '../fleet-runner';

/** Prints a valid access token for one cluster (from the cache while it has over a minute left). */
export async function tokenCommand(ctx: CliContext, cluster: ClusterConfig): Promise<number> {
  const outcome = await withDeadline(ctx.options.timeoutMs, (signal) => ctx.tokenSource(cluster).token({ signal }));
  if (!outcome.ok) {
    if (ctx.options.json) ctx.printJson({ cluster: cluster.name, ok: false, error: outcome.error });
    else ctx.warn(`${cluster.name}: ${outcome.error}`);
    return 1;
  }
  const { accessToken, expiresAt, fromCache } = outcome.value;
  if (ctx.options.json) {
    const expiresInSeconds = expiresAt === undefined ? null : Math.round((expiresAt - Date.now()) / 1000);
    ctx.printJson({ cluster: cluster.name, ok: true, accessToken, expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(), expiresInSeconds, fromCache });
  } else {
    ctx.print(accessToken);
  }
  return 0;
}
