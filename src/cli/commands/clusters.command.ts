import { FedgwConfig } from '../cli-config';
import { CliContext } from '../cli-context';

/** The configured clusters, one a line (or with their settings, without secrets, as JSON). */
export function clustersCommand(ctx: CliContext, config: FedgwConfig): number {
  if (ctx.options.json) {
    ctx.printJson(
      config.clusters.map((c) => ({
        cluster: c.name,
        gateway: c.gateway,
        ...(c.tokenUrl ? { tokenUrl: c.tokenUrl } : { issuer: c.issuer }),
        clientId: c.clientId,
        clientSecretFrom: 'file' in c.secret ? 'file' : 'env' in c.secret ? 'env' : 'command',
        audience: c.audience,
        scope: c.scope,
        resource: c.resource,
      })),
    );
  } else {
    for (const c of config.clusters) ctx.print(c.name);
  }
  return 0;
}
