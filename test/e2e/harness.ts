import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { DestinationStream } from 'pino';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IssuerKeys } from '../../src/auth/issuer-keys';
import { SigningKeysService } from '../../src/auth/signing-keys.service';
import { GatewayConfig, loadConfig } from '../../src/config/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway';
import { TestIdentityProvider } from '../support/identity-provider';
import { OpenFaasStandIn, OpenFaasStandInOptions } from '../support/openfaas-stand-in';

export const ADMIN_USER = 'admin';
export const ADMIN_PASSWORD = 'harness-admin-password-4f1c';
export const AUDIENCE = 'openfaas-gateway';

export interface HarnessOptions {
  /** Gateway environment variables on top of the harness defaults. */
  env?: Record<string, string>;
  /** An issuer other than the harness's own identity provider (e.g. a JwksServer). */
  issuer?: string;
  /** Skip waiting for signing keys (for tests of a gateway that cannot load them). */
  noWaitForKeys?: boolean;
  /** Where the gateway's log lines go; without it the gateway logs nothing (unless GATEWAY_TEST_LOGS is set). */
  logDestination?: DestinationStream;
  /** Options for the OpenFaaS stand-in (its credentials stay the harness's). */
  openfaas?: Omit<OpenFaasStandInOptions, 'user' | 'password'>;
}

/**
 * A real gateway (the AppModule, booted as main.ts boots it) between a real OpenID Provider and
 * a recording OpenFaaS stand-in, with the admin credentials in a temporary secret folder.
 */
export class Harness {
  private constructor(
    readonly idp: TestIdentityProvider,
    readonly openfaas: OpenFaasStandIn,
    readonly gateway: RunningGateway,
    readonly config: GatewayConfig,
    readonly secretsDir: string,
  ) {}

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const idp = await TestIdentityProvider.start({ audience: AUDIENCE });
    const openfaas = await OpenFaasStandIn.start({ ...options.openfaas, user: ADMIN_USER, password: ADMIN_PASSWORD });
    const secretsDir = mkdtempSync(join(tmpdir(), 'gateway-e2e-'));
    writeFileSync(join(secretsDir, 'basic-auth-user'), `${ADMIN_USER}\n`);
    writeFileSync(join(secretsDir, 'basic-auth-password'), `${ADMIN_PASSWORD}\n`);
    let gateway: RunningGateway | undefined;
    try {
      const config = loadConfig({
        port: '0',
        metrics_port: '0',
        issuer: options.issuer ?? idp.issuer,
        audience: AUDIENCE,
        gateway_url: openfaas.url,
        secret_mount_path: secretsDir,
        shutdown_timeout: '2s',
        ...options.env,
      });
      gateway = await startGateway(config, {
        host: '127.0.0.1',
        logDestination: options.logDestination,
        silent: !options.logDestination && !process.env.GATEWAY_TEST_LOGS,
      });
      const harness = new Harness(idp, openfaas, gateway, config, secretsDir);
      if (!options.noWaitForKeys) await harness.keys.start();
      return harness;
    } catch (err) {
      // A suite whose harness failed must still exit: free what was started.
      await gateway?.close();
      await Promise.all([idp.close(), openfaas.close()]);
      rmSync(secretsDir, { recursive: true, force: true });
      throw err;
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.gateway.port}`;
  }

  /** The signing keys of the harness's issuer (the environment's). */
  get keys(): IssuerKeys {
    return this.gateway.app.get(SigningKeysService).primary;
  }

  /** A fresh client-credentials access token from the identity provider. */
  token(): Promise<string> {
    return this.idp.clientCredentialsToken();
  }

  async bearer(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.token()}` };
  }

  async close(): Promise<void> {
    await this.gateway.close();
    await Promise.all([this.idp.close(), this.openfaas.close()]);
    rmSync(this.secretsDir, { recursive: true, force: true });
  }
}

/** The admin credentials as OpenFaaS expects them. */
export const ADMIN_BASIC = `Basic ${Buffer.from(`${ADMIN_USER}:${ADMIN_PASSWORD}`).toString('base64')}`;

/** A log destination that keeps every complete line the gateway writes, in order. */
export function captureLines(): { lines: string[]; destination: DestinationStream } {
  const lines: string[] = [];
  let pending = '';
  return {
    lines,
    destination: {
      write(chunk: string) {
        pending += chunk;
        const parts = pending.split('\n');
        pending = parts.pop() ?? '';
        lines.push(...parts.filter((line) => line !== ''));
      },
    },
  };
}
