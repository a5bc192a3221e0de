import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { closedPort } from '../support/http-client';
import { TestIdentityProvider } from '../support/identity-provider';
import { LoopbackServer, sendJson } from '../support/loopback-server';
import { allOutputs, AUDIENCE, childEnv, claimsOf, FleetGateway, filesUnder, IdpFront, runFedgw, TempDirs, writeConfig } from './fleet-fixture';

/**
 * fedgw's fleet commands (status, functions, query, diagnose) run as a real process against two
 * real gateways in front of OpenFaaS stand-ins, a real OpenID Provider with several clients, a
 * cluster that is down, one with a wrong secret, one whose token the gateway refuses and one
 * that never answers. Expected values come from the stand-ins, the IdP and package.json.
 */

const PACKAGE_VERSION = (JSON.parse(readFileSync(resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;
const SECRETS = { alpha: 'alpha-secret-91f0c2', beta: 'beta-secret-4be7a1', gamma: 'gamma-secret-0d93ee' };
const WRONG_SECRET = 'wrong-secret-5c1a77';

describe('fedgw fleet commands', () => {
  const dirs = new TempDirs();
  let idp: TestIdentityProvider;
  let front: IdpFront;
  let gatewayA: FleetGateway;
  let gatewayB: FleetGateway;
  let silent: LoopbackServer;
  let downPort: number;
  let home: string;
  let config: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    idp = await TestIdentityProvider.start({
      audience: AUDIENCE,
      clients: [
        { clientId: 'alpha', clientSecret: SECRETS.alpha },
        { clientId: 'beta', clientSecret: SECRETS.beta },
        { clientId: 'gamma', clientSecret: SECRETS.gamma },
      ],
    });
    front = await IdpFront.start(idp.issuer);
    [gatewayA, gatewayB] = await Promise.all([
      FleetGateway.start(idp.issuer, [
        { name: 'figlet', image: 'ghcr.io/openfaas/figlet:latest' },
        { name: 'env', image: 'ghcr.io/openfaas/alpine:latest', namespace: 'staging' },
      ]),
      FleetGateway.start(idp.issuer, [{ name: 'cows', image: 'ghcr.io/openfaas/cows:latest' }]),
    ]);
    // Accepts connections and never answers: only the per-cluster timeout ends the wait.
    silent = await LoopbackServer.start(() => new Promise(() => {}));
    downPort = await closedPort();
    home = dirs.make('fedgw-home-');
    mkdirSync(join(home, 'secrets'));
    writeFileSync(join(home, 'secrets', 'alpha'), `  ${SECRETS.alpha}\n`);
    config = writeConfig(home, {
      defaults: { issuer: front.url, clientId: 'alpha', clientSecretFile: '~/secrets/alpha' },
      clusters: {
        alpha: { gateway: gatewayA.url },
        beta: { gateway: `${gatewayB.url}/`, tokenUrl: `${front.url}/custom/token`, clientId: 'beta', clientSecretEnv: 'BETA_SECRET' },
        down: { gateway: `http://127.0.0.1:${downPort}` },
        wrong: { gateway: gatewayA.url, clientId: 'gamma', clientSecretCommand: `printf '%s\\n' ${WRONG_SECRET}` },
        refused: { gateway: gatewayB.url, resource: 'https://elsewhere.example/api' },
        silent: { gateway: silent.url },
      },
    });
    env = childEnv(home, { FEDGW_CONFIG: config, BETA_SECRET: SECRETS.beta });
  });

  after(async () => {
    await Promise.all([gatewayA?.close(), gatewayB?.close()]);
    await Promise.all([idp?.close(), front?.close(), silent?.close()]);
    dirs.removeAll();
  });

  it('status: every cluster in one table, each failure naming its cause, exit 1', async () => {
    const run = await runFedgw(['status', '--timeout', '2s'], env);
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^CLUSTER\s+OK\s+GATEWAY VERSION\s+OPENFAAS\s+TOKEN EXPIRES IN\s+LATENCY\s+ERROR$/);
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `)) ?? assert.fail(`no row for ${name}:\n${run.stdout}`);
    const info = await gatewayA.upstream<{ version: { release: string } }>('/system/info');
    assert.match(row('alpha'), new RegExp(`^alpha\\s+yes\\s+${PACKAGE_VERSION}\\s+healthy ${info.version.release}\\s+\\dm\\d*s?\\s+\\d+ms$`));
    assert.match(row('beta'), /^beta\s+yes\s/);
    assert.match(row('down'), new RegExp(`^down\\s+NO\\s.*unreachable: connection refused \\(ECONNREFUSED\\)`));
    assert.match(row('wrong'), /^wrong\s+NO\s.*token endpoint .* refused: 401 invalid_client/);
    assert.match(row('refused'), /^refused\s+NO\s.*gateway refused \(401 invalid_token\): .*audience/);
    assert.match(row('silent'), /^silent\s+NO\s.*timed out .* \(after 2s\)/);
  });

  it('status --json: one object per cluster with cluster, ok, and error only when not ok', async () => {
    const run = await runFedgw(['status', 'alpha', 'down', 'beta', '--json'], env);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, '');
    const rows = JSON.parse(run.stdout) as Array<Record<string, any>>;
    assert.deepEqual(
      rows.map((r) => [r.cluster, r.ok, 'error' in r]),
      [
        ['alpha', true, false],
        ['down', false, true],
        ['beta', true, false],
      ],
    );
    const info = await gatewayB.upstream<{ version: { release: string } }>('/system/info');
    const beta = rows[2] as Record<string, any>;
    assert.equal(beta.version, PACKAGE_VERSION);
    assert.deepEqual(beta.openfaas, { healthy: true, version: info.version.release, error: null });
    assert.ok(beta.tokenExpiresInSeconds > 240 && beta.tokenExpiresInSeconds <= 300, String(beta.tokenExpiresInSeconds));
    assert.equal(typeof beta.latencyMs, 'number');
    assert.match((rows[1] as Record<string, any>).error, /ECONNREFUSED/);
  });

  it('status: an unhealthy OpenFaaS behind a gateway fails that cluster only', async () => {
    const sick = await FleetGateway.start(idp.issuer, []);
    try {
      sick.openfaas.setHealthy(false);
      const file = writeConfig(home, { defaults: { issuer: idp.issuer, clientId: 'alpha', clientSecretFile: '~/secrets/alpha' }, clusters: { alpha: { gateway: gatewayA.url }, sick: { gateway: sick.url } } }, 'sick.yaml');
      const run = await runFedgw(['status', '--json', '--config', file], env);
      assert.equal(run.code, 1);
      const [alpha, unhealthy] = JSON.parse(run.stdout) as Array<Record<string, any>>;
      assert.equal(alpha?.ok, true);
      assert.equal(unhealthy?.ok, false);
      assert.equal(unhealthy?.openfaas.healthy, false);
      assert.match(unhealthy?.error, /unhealthy: .*503/);
    } finally {
      await sick.close();
    }
  });

  it('status of healthy clusters only exits 0', async () => {
    const run = await runFedgw(['status', 'alpha', 'beta'], env);
    assert.equal(run.code, 0, run.stdout + run.stderr);
  });

  it('functions: the fleet functions as the stand-ins hold them, per namespace', async () => {
    const run = await runFedgw(['functions', '--json', '--timeout', '1s'], env);
    assert.equal(run.code, 1);
    const rows = JSON.parse(run.stdout) as Array<Record<string, any>>;
    assert.deepEqual(rows.map((r) => r.cluster), ['alpha', 'beta', 'down', 'wrong', 'refused', 'silent']);
    for (const [cluster, gateway] of [['alpha', gatewayA], ['beta', gatewayB]] as const) {
      const expected = await gateway.upstream<Array<{ name: string; image: string; replicas: number }>>('/system/functions');
      const row = rows.find((r) => r.cluster === cluster) as Record<string, any>;
      assert.equal(row.ok, true);
      assert.deepEqual(
        row.functions.map((f: any) => [f.name, f.image, f.replicas]).sort(),
        expected.map((f) => [f.name, f.image, f.replicas]).sort(),
      );
    }
    for (const r of rows.filter((r) => !['alpha', 'beta'].includes(r.cluster))) assert.equal(typeof r.error, 'string', r.cluster);

    const staging = await runFedgw(['functions', 'alpha', '--namespace', 'staging'], env);
    assert.equal(staging.code, 0, staging.stderr);
    const expected = await gatewayA.upstream<Array<{ name: string }>>('/system/functions?namespace=staging');
    const names = staging.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/));
    assert.deepEqual(names.map((cols) => [cols[0], cols[1], cols[2]]), expected.map((f) => ['alpha', 'staging', f.name]));
  });

  it('functions: a failing cluster is named on stderr while the others are listed', async () => {
    const run = await runFedgw(['functions', 'beta', 'down'], env);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^beta\s+openfaas-fn\s+cows\s+ghcr\.io\/openfaas\/cows:latest/m);
    assert.match(run.stderr, /^fedgw: down: gateway .* unreachable: connection refused \(ECONNREFUSED\)/m);
  });

  it('query: one document on each cluster, JSON keyed by cluster name', async () => {
    const run = await runFedgw(['query', 'alpha', 'down', '--query', '{ namespaces }'], env);
    assert.equal(run.code, 1);
    const result = JSON.parse(run.stdout) as Record<string, any>;
    assert.deepEqual(Object.keys(result), ['alpha', 'down']);
    const namespaces = await gatewayA.upstream<string[]>('/system/namespaces');
    assert.deepEqual(result.alpha, { ok: true, data: { namespaces } });
    assert.equal(result.down.ok, false);
    assert.match(result.down.error, /ECONNREFUSED/);

    const bad = await runFedgw(['query', 'beta', '-q', '{ noSuchField }'], env);
    assert.equal(bad.code, 1);
    const answer = JSON.parse(bad.stdout) as Record<string, any>;
    assert.equal(answer.beta.ok, false);
    assert.ok(answer.beta.errors.length > 0);
  });

  it('diagnose: a fresh token, every check of the gateway passed', async () => {
    const before = front.tokenRequests().length;
    const run = await runFedgw(['diagnose', 'alpha', '--json'], env);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(front.tokenRequests().length, before + 1, 'diagnose asks the IdP for a fresh token');
    const [row] = JSON.parse(run.stdout) as Array<Record<string, any>>;
    assert.equal(row?.cluster, 'alpha');
    assert.equal(row?.ok, true);
    assert.equal(row?.diagnostics.valid, true);
    assert.ok(row?.diagnostics.checks.length >= 5);
    assert.ok(row?.diagnostics.checks.every((c: any) => c.passed === true));
    assert.equal(row?.token.issuer, idp.issuer);

    const text = await runFedgw(['diagnose', 'alpha'], env);
    assert.equal(text.code, 0);
    for (const check of row?.diagnostics.checks ?? []) assert.match(text.stdout, new RegExp(`PASS\\s+${check.name}\\s`));
  });

  it('diagnose: a token the gateway refuses names the gateway error_description, exit 1', async () => {
    const run = await runFedgw(['diagnose', 'refused', '--json'], env);
    assert.equal(run.code, 1);
    const [row] = JSON.parse(run.stdout) as Array<Record<string, any>>;
    assert.equal(row?.ok, false);
    assert.deepEqual(row?.token.audiences, ['https://elsewhere.example/api']);
    assert.match(row?.error, /gateway refused \(401 invalid_token\).*audience/);
  });

  it('bounded concurrency: the silent cluster times out on its own while the rest answer', async () => {
    const started = Date.now();
    const run = await runFedgw(['status', 'silent', 'alpha', 'beta', '--concurrency', '1', '--timeout', '700ms', '--json'], env);
    const rows = JSON.parse(run.stdout) as Array<Record<string, any>>;
    assert.deepEqual(rows.map((r) => r.ok), [false, true, true]);
    assert.match(rows[0]?.error, /timed out calling the gateway .* \(after 700ms\)/);
    assert.ok(Date.now() - started < 8000);
  });

  it('scrubs the secret out of an identity provider error that echoes it', async () => {
    const echoing = await LoopbackServer.start(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      sendJson(res, 400, { error: 'invalid_request', error_description: `client_secret ${form.get('client_secret')} is not accepted` });
    });
    try {
      const file = writeConfig(home, { clusters: { echo: { gateway: gatewayA.url, tokenUrl: `${echoing.url}/token`, clientId: 'alpha', clientSecretEnv: 'ECHO_SECRET' } } }, 'echo.yaml');
      const run = await runFedgw(['status', '--config', file], { ...env, ECHO_SECRET: SECRETS.alpha });
      assert.equal(run.code, 1);
      assert.match(run.stdout, /refused: 400 invalid_request: client_secret \[redacted\] is not accepted/);
      assert.ok(!run.stdout.includes(SECRETS.alpha));
    } finally {
      await echoing.close();
    }
  });

  it('uses client_secret_post at the token endpoint: no Authorization header, the right secret per client', () => {
    const posts = front.tokenRequests();
    assert.ok(posts.length > 0);
    for (const post of posts) {
      assert.equal(post.headers.authorization, undefined);
      assert.equal(post.form.get('grant_type'), 'client_credentials');
      const client = post.form.get('client_id') as keyof typeof SECRETS;
      assert.equal(post.form.get('client_secret'), client === 'gamma' ? WRONG_SECRET : SECRETS[client], client);
    }
    const beta = posts.filter((p) => p.form.get('client_id') === 'beta');
    assert.ok(beta.length > 0 && beta.every((p) => p.path === '/custom/token'), 'beta uses its tokenUrl');
  });

  it('no secret in any output or cache file', async () => {
    // The token from the cache is still a real token of the right client.
    const run = await runFedgw(['token', 'beta'], env);
    assert.equal(claimsOf(run.stdout.trim()).client_id, 'beta');
    const cache = filesUnder(join(home, 'xdg-cache'));
    assert.ok(cache.length > 0, 'the fleet commands cached tokens');
    const texts = [...allOutputs, ...cache.map((f) => f.text)];
    for (const secret of [...Object.values(SECRETS), WRONG_SECRET]) {
      assert.ok(texts.every((t) => !t.includes(secret)), `secret ${secret.slice(0, 5)}… leaked`);
    }
  });
});
