import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { ClusterConfig } from './cli-config';
import { readClientSecret } from './lib/client-secret';
import { GatewayClient } from './lib/gateway-client';
import { TokenCache } from './lib/token-cache';
import { TokenSource } from './lib/token-source';
import { renderTable } from './table-output';

export interface SharedOptions {
  config?: string;
  concurrency: number;
  timeoutMs: number;
  json: boolean;
  cache: boolean;
}

/** What every command works with: the options, the environment, and each cluster's clients. */
export class CliContext {
  readonly cache: TokenCache;

  constructor(
    readonly options: SharedOptions,
    readonly env: NodeJS.ProcessEnv,
  ) {
    this.cache = new TokenCache(cacheDir(env));
  }

  tokenSource(cluster: ClusterConfig): TokenSource {
    return new TokenSource({
      issuer: cluster.issuer,
      tokenUrl: cluster.tokenUrl,
      clientId: cluster.clientId,
      clientSecret: (signal) => readClientSecret(cluster.secret, { env: this.env, signal }),
      audience: cluster.audience,
      scope: cluster.scope,
      resource: cluster.resource,
      cache: this.options.cache ? { store: this.cache, name: cluster.name } : undefined,
    });
  }

  gatewayClient(cluster: ClusterConfig, token: string): GatewayClient {
    return new GatewayClient({ gateway: cluster.gateway, token });
  }

  /** A line on stdout, or the value as JSON. */
  print(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  printTable(head: readonly string[], rows: readonly (readonly string[])[]): void {
    process.stdout.write(renderTable(head, rows));
  }

  warn(text: string): void {
    process.stderr.write(`fedgw: ${text}\n`);
  }
}

/** $XDG_CACHE_HOME/fedgw (the XDG spec ignores a relative value), else ~/.cache/fedgw. */
export function cacheDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache'), 'fedgw');
}
