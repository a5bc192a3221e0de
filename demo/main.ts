import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config/gateway-config';
import { startGateway } from '../src/gateway';
import { writeFedgwConfig } from './fedgw-config';
import { TestIdentityProvider } from '../test/support/identity-provider';
import { OpenFaasStandIn } from '../test/support/openfaas-stand-in';

const IDP_PORT = Number(process.env.DEMO_IDP_PORT ?? 9000);
const OPENFAAS_PORT = Number(process.env.DEMO_OPENFAAS_PORT ?? 9001);
const AUDIENCE = 'openfaas-gateway';
const CLIENT = { clientId: 'demo-client', clientSecret: 'demo-secret' };

/**
 * The gateway on an embedded default: a real OpenID Provider issuing client-credentials tokens,
 * an in-memory OpenFaaS stand-in holding the admin password, and the gateway in front, all on
 * loopback. Environment variables of the gateway (port, allow_invoke, log_encoding, ...) apply.
 */
async function main(): Promise<void> {
  const idp = await TestIdentityProvider.start({ port: IDP_PORT, audience: AUDIENCE, clients: [CLIENT] });
  const password = randomBytes(18).toString('base64url');
  const openfaas = await OpenFaasStandIn.start({ port: OPENFAAS_PORT, user: 'admin', password });
  const secrets = mkdtempSync(join(tmpdir(), 'federated-gateway-demo-'));
  writeFileSync(join(secrets, 'basic-auth-user'), 'admin\n');
  writeFileSync(join(secrets, 'basic-auth-password'), `${password}\n`);

  let config;
  try {
    config = loadConfig({
      allow_invoke: 'true',
      ...process.env,
      issuer: idp.issuer,
      audience: AUDIENCE,
      gateway_url: openfaas.url,
      secret_mount_path: secrets,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const gateway = await startGateway(config, { host: '127.0.0.1' });
  const url = `http://127.0.0.1:${gateway.port}`;
  process.stdout.write(`
OpenFaaS federated gateway demo
  gateway          ${url}   (metrics on :${gateway.metricsPort}/metrics)
  identity provider ${idp.issuer}   (client ${CLIENT.clientId} / ${CLIENT.clientSecret}, audience ${AUDIENCE})
  OpenFaaS stand-in ${openfaas.url}   (its admin password stays in ${secrets})

Get a token (client-credentials grant) and use it:
  TOKEN=$(curl -s -d grant_type=client_credentials -d client_id=${CLIENT.clientId} -d client_secret=${CLIENT.clientSecret} \\
    ${idp.tokenEndpoint} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
  curl -s -H "Authorization: Bearer $TOKEN" ${url}/system/functions
  faas-cli list -g ${url} --token "$TOKEN"
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${url}/graphql \\
    -d '{"query":"{ gatewayStatus { version upstream { healthy } issuer { keys { kid } } } }"}'
  curl -s -H "Authorization: Bearer $TOKEN" -d 'hello' ${url}/function/echo   # allow_invoke=${config.allowInvoke}

Ctrl-C stops it.
`);
  const fedgw = writeFedgwConfig({ issuer: idp.issuer, gateway: url, ...CLIENT });
  process.stdout.write(`\n${fedgw.instructions}`);
  process.once('exit', fedgw.remove);
  const stop = () => {
    void gateway
      .close()
      .then(() => Promise.all([idp.close(), openfaas.close()]))
      .finally(() => {
        rmSync(secrets, { recursive: true, force: true });
        process.exit(0);
      });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main().catch((err: Error) => {
  process.stderr.write(`demo failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
