import { ClusterConfig } from '../cli-config';
import { CliContext } from '../cli-context';
import { TokenDiagnostics } from '../lib/gateway-client';
import { runFleetWithProgress } from './fleet-progress';

/** The claims of the token the identity provider issued, decoded here without verification. */
export interface IssuedToken {
  issuer: string | null;
  audiences: string[];
  clientId: string | null;
  scope: string | null;
  expiresInSeconds: number | null;
}

/** The one entry of `fedgw diagnose --json`. */
export interface DiagnoseRow {
  cluster: string;
  ok: boolean;
  token?: IssuedToken;
  diagnostics?: TokenDiagnostics;
  error?: string;
}

/** A fresh token, checked by the cluster's gateway through tokenDiagnostics. */
export async function diagnoseCommand(ctx: CliContext, cluster: ClusterConfig): Promise<number> {
  let issued: IssuedToken | undefined;
  const [outcome] = await runFleetWithProgress(ctx, [cluster], 'diagnose', async (c, signal) => {
    const token = await ctx.tokenSource(c).token({ signal, fresh: true });
    issued = decodeToken(token.accessToken);
    return ctx.gatewayClient(c, token.accessToken).tokenDiagnostics(token.accessToken, signal);
  });
  const row: DiagnoseRow = outcome?.ok
    ? { cluster: cluster.name, ok: outcome.value.valid, token: issued, diagnostics: outcome.value }
    : { cluster: cluster.name, ok: false, token: issued, error: outcome?.error ?? 'not run' };
  if (!row.ok && row.diagnostics) row.error = row.diagnostics.description ?? row.diagnostics.reason ?? 'token refused';
  if (ctx.options.json) {
    ctx.printJson([row]);
  } else {
    const lines = [`cluster ${cluster.name} (${cluster.gateway})`];
    if (issued) {
      lines.push(
        `token from the identity provider: iss ${issued.issuer ?? '-'}, aud ${issued.audiences.join(',') || '-'}, client ${issued.clientId ?? '-'}, ` +
          `scope ${issued.scope ?? '-'}, expires in ${issued.expiresInSeconds ?? '-'}s`,
      );
    }
    for (const check of row.diagnostics?.checks ?? []) lines.push(`  ${check.passed ? 'PASS' : 'FAIL'}  ${check.name.padEnd(10)} ${check.detail}`);
    lines.push(row.ok ? 'the gateway accepts this token' : `FAILED: ${row.error}`);
    ctx.print(lines.join('\n'));
  }
  return row.ok ? 0 : 1;
}

function decodeToken(token: string): IssuedToken | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    const aud = claims.aud;
    return {
      issuer: str(claims.iss),
      audiences: typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [],
      clientId: str(claims.azp) ?? str(claims.client_id) ?? str(claims.appid) ?? str(claims.cid),
      scope: str(claims.scope) ?? str(claims.scp),
      expiresInSeconds: typeof claims.exp === 'number' ? Math.round(claims.exp - Date.now() / 1000) : null,
    };
  } catch {
    return undefined;
  }
}
