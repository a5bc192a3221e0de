import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ADMIN_BASIC, ADMIN_PASSWORD, ADMIN_USER, AUDIENCE } from './harness';
import { GatewayProcess } from '../support/gateway-process';
import { closedPort, request } from '../support/http-client';
import { TestIdentityProvider } from '../support/identity-provider';
import { OpenFaasStandIn } from '../support/openfaas-stand-in';
import { waitUntil } from '../support/wait';

/**
 * An OpenFaaS gateway behind HTTPS (gateway_url=https://...), with a certificate from a private
 * CA, as a cluster with its own CA has it: the gateway process trusts it through node's
 * NODE_EXTRA_CA_CERTS, and refuses it without. The upstream agent hands node's pool fixed
 * connection options (src/proxy/upstream-agent.ts): these tests pin that TLS still verifies the
 * certificate and still reuses its connections.
 *
 * test/fixtures/tls holds a self-signed certificate for 127.0.0.1 and localhost, for tests only:
 * `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
 * -keyout key.pem -out cert.pem -subj "/CN=OpenFaaS stand-in (tests only)"
 * -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:TRUE"`.
 */
const TLS_DIR = resolve(__dirname, '../../../test/fixtures/tls');
const CERT_FILE = join(TLS_DIR, 'cert.pem');

describe('an OpenFaaS gateway behind HTTPS with a private CA', () => {
  let idp: TestIdentityProvider;
  let openfaas: OpenFaasStandIn;
  let secrets: string;
  let trusting: GatewayProcess;
  let distrusting: GatewayProcess;
  let token: string;

  before(async () => {
    idp = await TestIdentityProvider.start({ audience: AUDIENCE });
    openfaas = await OpenFaasStandIn.start({
      user: ADMIN_USER,
      password: ADMIN_PASSWORD,
      tls: { cert: readFileSync(CERT_FILE, 'utf8'), key: readFileSync(join(TLS_DIR, 'key.pem'), 'utf8') },
    });
    assert.match(openfaas.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    secrets = mkdtempSync(join(tmpdir(), 'gateway-tls-'));
    writeFileSync(join(secrets, 'basic-auth-user'), ADMIN_USER);
    writeFileSync(join(secrets, 'basic-auth-password'), ADMIN_PASSWORD);
    const env = { issuer: idp.issuer, audience: AUDIENCE, gateway_url: openfaas.url, secret_mount_path: secrets, allow_invoke: 'true' };
    const [port, otherPort] = [await closedPort(), await closedPort()];
    trusting = GatewayProcess.spawn({ ...env, NODE_EXTRA_CA_CERTS: CERT_FILE, port: String(port), metrics_port: String(await closedPort()) }, port);
    distrusting = GatewayProcess.spawn({ ...env, port: String(otherPort), metrics_port: String(await closedPort()) }, otherPort);
    // /healthz checks OpenFaaS too: the distrusting gateway only ever answers it 503.
    await Promise.all([trusting.ready(), waitUntil(async () => (await request(`${distrusting.url}/healthz`).catch(() => undefined))?.status === 503, 20_000)]);
    token = await idp.clientCredentialsToken();
  });
  after(async () => {
    trusting?.kill();
    distrusting?.kill();
    await Promise.all([idp?.close(), openfaas?.close()]);
    if (secrets) rmSync(secrets, { recursive: true, force: true });
  });

  it('forwards /system/* over TLS with the admin credentials, path and query as sent', async () => {
    openfaas.clearRequests();
    const res = await request(`${trusting.url}/system/functions?namespace=openfaas-fn`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      openfaas.requests.map((r) => [r.method, r.url, r.headers.authorization]),
      [['GET', '/system/functions?namespace=openfaas-fn', ADMIN_BASIC]],
    );
  });

  it('forwards an invocation with its body and without the caller token', async () => {
    openfaas.clearRequests();
    const body = JSON.stringify({ over: 'tls', n: 42 });
    const res = await request(`${trusting.url}/function/echo`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body,
    });
    assert.equal(res.status, 200, res.text);
    const [rec] = openfaas.requests;
    assert.equal(openfaas.requests.length, 1);
    assert.equal(rec?.url, '/function/echo');
    assert.equal(rec?.body.toString(), body);
    assert.equal(rec?.headers.authorization, undefined);
  });

  it('keeps its TLS connection alive: ten calls in a row make at most one new handshake', async () => {
    await request(`${trusting.url}/system/info`, { headers: { Authorization: `Bearer ${token}` } });
    const before = openfaas.tlsSessions;
    for (let i = 0; i < 10; i++) {
      const res = await request(`${trusting.url}/system/info`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200, res.text);
    }
    assert.ok(openfaas.tlsSessions - before <= 1, `${openfaas.tlsSessions - before} handshakes for ten calls`);
  });

  it('refuses a certificate it has no reason to trust: 502, and nothing reaches OpenFaaS', async () => {
    openfaas.clearRequests();
    const res = await request(`${distrusting.url}/system/functions`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json().error, 'upstream_unavailable');
    assert.deepEqual(openfaas.requests, []);
    // Log lines go out in batches, at the latest a quarter second later.
    const refusal = /upstream request GET \/system\/functions failed: (SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/;
    await waitUntil(() => refusal.test(distrusting.log), 5000, { message: `no certificate refusal logged:\n${distrusting.log}` });
  });
});
