import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config/gateway-config';
import { RunningGateway, startGateway } from '../src/gateway';
import { DemoFedgwConfig, writeFedgwConfig } from './fedgw-config';
import { TestIdentityProvider } from '../test/support/identity-provider';
import { OpenFaasStandIn } from '../test/support/openfaas-stand-in';

const IDP_PORT = Number(process.env.DEMO_IDP_PORT ?? 9000);
const OPENFAAS_PORT = Number(process.env.DEMO_OPENFAAS_PORT ?? 9001);
const AUDIENCE = 'openfaas-gateway';
const CLIENT = { clientId: 'demo-client', clientSecret: 'demo-secret' };

/** A start-up failure the person running the demo can act on: one sentence, exit 1. */
class DemoError extends Error {}

/** Starts one part; a port already taken is named with the variable that moves it. */
async function onPort<T>(what: string, port: number, variable: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new DemoError(`port ${port} (the ${what}) is taken: set ${variable} to a free port, e.g. ${variable}=${port + 100} npm run demo`);
    }
    throw err;
  }
}

/**
 * The gateway on an embedded default: a real OpenID Provider issuing client-credentials tokens,
 * an in-memory OpenFaaS stand-in holding the admin password, and the gateway in front, all on
 * loopback. Environment variables of the gateway (port, allow_invoke, log_encoding, ...) apply;
 * allow_invoke is on unless set.
 */
async function main(): Promise<void> {
  const idp = await onPort('identity provider', IDP_PORT, 'DEMO_IDP_PORT', () => TestIdentityProvider.start({ port: IDP_PORT, audience: AUDIENCE, clients: [CLIENT] }));
  const password = randomBytes(18).toString('base64url');
  const openfaas = await onPort('OpenFaaS stand-in', OPENFAAS_PORT, 'DEMO_OPENFAAS_PORT', () => OpenFaasStandIn.start({ port: OPENFAAS_PORT, user: 'admin', password }));
  const secrets = mkdtempSync(join(tmpdir(), 'federated-gateway-demo-'));
  writeFileSync(join(secrets, 'basic-auth-user'), 'admin\n');
  writeFileSync(join(secrets, 'basic-auth-password'), `${password}\n`);
  let gateway: RunningGateway | undefined;
  let fedgw: DemoFedgwConfig | undefined;
  // One Ctrl-C (npm and node both get it) stops everything; the signal handlers are in place before anything can hang.
  const stop = () => {
    void Promise.resolve(gateway?.close())
      .then(() => Promise.all([idp.close(), openfaas.close()]))
      .finally(() => {
        rmSync(secrets, { recursive: true, force: true });
        fedgw?.remove();
        process.exit(0);
      });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  let config;
  try {
    config = loadConfig({ allow_invoke: 'true', ...process.env, issuer: idp.issuer, audience: AUDIENCE, gateway_url: openfaas.url, secret_mount_path: secrets });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  gateway = await onPort('gateway', config.port, 'port', () => startGateway(config, { host: '127.0.0.1' }));
  const url = `http://127.0.0.1:${gateway.port}`;
  fedgw = writeFedgwConfig({ issuer: idp.issuer, gateway: url, ...CLIENT });
  // The banner comes after the gateway's start-up lines, once it listens.
  gateway.flushLogs();
  process.stdout.write(`
OpenFaaS federated gateway demo: listening
  gateway           ${url}   (metrics on :${gateway.metricsPort}/metrics)
  identity provider ${idp.issuer}   (client ${CLIENT.clientId} / ${CLIENT.clientSecret}, audience ${AUDIENCE})
  OpenFaaS stand-in ${openfaas.url}   (its admin password stays in ${secrets})
  allow_invoke=${config.allowInvoke}: the demo turns function invocations on (set allow_invoke=false to see them refused)

Get a token (client-credentials grant) and use it:
  TOKEN=$(curl -s -d grant_type=client_credentials -d client_id=${CLIENT.clientId} -d client_secret=${CLIENT.clientSecret} \\
    ${idp.tokenEndpoint} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
  curl -s -H "Authorization: Bearer $TOKEN" ${url}/system/functions
  faas-cli list -g ${url} --token "$TOKEN"
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${url}/graphql \\
    -d '{"query":"{ gatewayStatus { version upstream { healthy } issuer { keys { kid } } } }"}'
  curl -s -H "Authorization: Bearer $TOKEN" -d 'hello' ${url}/function/echo

${fedgw.instructions}
Ctrl-C stops it.
`);
}

void main().catch((err: Error) => {
  process.stderr.write(err instanceof DemoError ? `demo: ${err.message}\n` : `demo failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
