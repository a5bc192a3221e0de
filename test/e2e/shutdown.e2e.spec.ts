import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayProcess } from '../support/gateway-process';
import { openStream, request } from '../support/http-client';
import { canConnect, freePorts } from '../support/ports';
import { TestIdentityProvider } from '../support/identity-provider';
import { OpenFaasStandIn } from '../support/openfaas-stand-in';
import { sleep, waitUntil } from '../support/wait';

const AUDIENCE = 'openfaas-gateway';
const USER = 'admin';
const PASSWORD = 'shutdown-test-password';

describe('shutdown: SIGTERM drains, then exits 0', () => {
  let idp: TestIdentityProvider;
  let openfaas: OpenFaasStandIn;
  let secrets: string;
  let authorization: string;
  const running: GatewayProcess[] = [];

  before(async () => {
    idp = await TestIdentityProvider.start({ audience: AUDIENCE });
    openfaas = await OpenFaasStandIn.start({ user: USER, password: PASSWORD });
    secrets = mkdtempSync(join(tmpdir(), 'gateway-shutdown-'));
    writeFileSync(join(secrets, 'basic-auth-user'), USER);
    writeFileSync(join(secrets, 'basic-auth-password'), PASSWORD);
    authorization = `Bearer ${await idp.clientCredentialsToken()}`;
  });

  beforeEach(() => {
    openfaas.setResponseDelay(0);
    openfaas.clearRequests();
  });

  after(async () => {
    for (const gateway of running) gateway.kill();
    await Promise.all([idp?.close(), openfaas?.close()]);
    rmSync(secrets, { recursive: true, force: true });
  });

  /** Waits until OpenFaaS has `n` proxied requests (the gateway's own /healthz probes aside). */
  async function proxiedArrived(n: number): Promise<void> {
    await waitUntil(() => openfaas.requests.filter((r) => r.url.startsWith('/system/')).length >= n, 5000, {
      message: `expected ${n} proxied request(s) at OpenFaaS`,
    });
  }

  async function spawnGateway(shutdownTimeout: string): Promise<GatewayProcess> {
    const [port, metricsPort] = await freePorts(2);
    const gateway = GatewayProcess.spawn(
      {
        port: String(port),
        metrics_port: String(metricsPort),
        issuer: idp.issuer,
        audience: AUDIENCE,
        gateway_url: openfaas.url,
        secret_mount_path: secrets,
        allow_invoke: 'true',
        shutdown_timeout: shutdownTimeout,
      },
      port,
    );
    running.push(gateway);
    return gateway;
  }

  it('stops accepting at once, lets the in-flight request finish, then exits 0', async () => {
    const gateway = await spawnGateway('10s');
    await gateway.ready();
    openfaas.setResponseDelay(1500);
    const inFlight = request(`${gateway.url}/system/functions`, { headers: { authorization }, timeoutMs: 10_000 });
    await proxiedArrived(1);
    const signalled = gateway.terminate();
    await waitUntil(async () => !(await canConnect(gateway.port)), 1000, { message: 'the listener still accepts after SIGTERM' });
    const res = await inFlight;
    const answered = Date.now();
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.json()));
    const exit = await gateway.exited;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, gateway.log);
    assert.ok(exit.at >= answered - 50, 'exited before the in-flight response was out');
    assert.ok(exit.at - signalled < 5000, `took ${exit.at - signalled}ms to exit`);
  });

  it('tells a kept-alive caller to close its connection, so no request is sent on a socket about to go', async () => {
    const gateway = await spawnGateway('10s');
    await gateway.ready();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      openfaas.setResponseDelay(1000);
      const inFlight = new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get(`${gateway.url}/system/functions`, { agent, headers: { authorization } }, resolve).on('error', reject);
      });
      await proxiedArrived(1);
      gateway.terminate();
      const res = await inFlight;
      res.resume();
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers.connection, 'close');
      assert.deepEqual((await gateway.exited).code, 0, gateway.log);
    } finally {
      agent.destroy();
    }
  });

  it('cuts what outlasts shutdown_timeout (a slow call, a followed log) and still exits 0 promptly', async () => {
    const gateway = await spawnGateway('1s');
    await gateway.ready();
    const follow = await openStream(`${gateway.url}/system/logs?name=echo&follow=true`, { headers: { authorization }, timeoutMs: 5000 });
    assert.equal(follow.status, 200);
    openfaas.setResponseDelay(30_000);
    const slow = request(`${gateway.url}/system/functions`, { headers: { authorization }, timeoutMs: 10_000 });
    await proxiedArrived(2);
    const signalled = gateway.terminate();
    await assert.rejects(slow, 'the slow call must be cut, not answered');
    assert.equal(await follow.readAll().then(() => 'ended', () => 'cut'), 'cut');
    const exit = await gateway.exited;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, gateway.log);
    const took = exit.at - signalled;
    assert.ok(took >= 900 && took < 4000, `exited ${took}ms after SIGTERM with shutdown_timeout=1s`);
    const proxied = openfaas.requests.filter((r) => r.url.startsWith('/system/'));
    assert.equal(proxied.length, 2);
    await waitUntil(() => proxied.every((r) => r.aborted), 2000, { message: 'an upstream request outlived the gateway' });
    assert.equal(openfaas.activeLogStreams, 0);
  });

  it('with nothing in flight, exits 0 at once', async () => {
    const gateway = await spawnGateway('10s');
    await gateway.ready();
    const signalled = gateway.terminate();
    const exit = await gateway.exited;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, gateway.log);
    assert.ok(exit.at - signalled < 2000, `took ${exit.at - signalled}ms`);
  });

  it('SIGTERM while still starting: exits 0 instead of dying by the signal', async () => {
    const gateway = await spawnGateway('10s');
    await gateway.started();
    gateway.terminate();
    const exit = await gateway.exited;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, gateway.log);
  });

  it('the stand-in saw every exchange of the suite end', async () => {
    await sleep(100);
    await waitUntil(() => openfaas.requests.every((r) => r.complete), 2000);
  });
});
