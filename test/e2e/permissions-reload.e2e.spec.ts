import 'reflect-metadata';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AccessFile,
  AccessHarness,
  accessYaml,
  assertForbidden,
  bearer,
  grant,
  IamObject,
  jwtIssuer,
  metric,
  policy,
  role,
  startWithAccess,
  upstreamCalls,
} from '../support/access-files';
import { SigningKeysService } from '../../src/auth/signing-keys.service';
import { AccessService } from '../../src/access/access.service';
import { loadConfig } from '../../src/config/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway';
import { GatewayProcess } from '../support/gateway-process';
import { TestIdentityProvider } from '../support/identity-provider';
import { OpenFaasStandIn } from '../support/openfaas-stand-in';
import { request } from '../support/http-client';
import { waitUntil } from '../support/wait';
import { ADMIN_PASSWORD, ADMIN_USER, AUDIENCE, captureLines } from './harness';

/**
 * The access file changing under a running gateway (as a ConfigMap update does): a good new
 * version applies to tokens already verified, a broken one is refused with an error log line and
 * a metric while the last good one stays, and the 5 s poll finds a change by itself. At start, a
 * broken file stops the real process with exit code 2 and every problem listed.
 */

const CLIENT = { StringEqual: { 'jwt:client_id': ['demo-client'] } };

/** The one Role of each version: Function:List in one namespace. */
function listIn(namespace: string): IamObject[] {
  return grant('lister', CLIENT, [{ action: ['Function:List'], resource: [`${namespace}:*`] }]);
}

describe('access_file reload', () => {
  let g: AccessHarness;
  let token: string;
  const log = captureLines();

  before(async () => {
    g = await startWithAccess(listIn('dev'), {
      env: { log_encoding: 'json' },
      logDestination: log.destination,
      openfaas: { namespaces: ['dev', 'prod', 'staging', 'team'] },
    });
    token = await g.h.token();
  });
  after(() => g?.close());
  beforeEach(() => g.h.openfaas.clearRequests());

  /** Re-reads the file; twice, so that a poll already reading the previous version cannot stand in for it. */
  async function reload(): Promise<void> {
    await g.reload();
    await g.reload();
  }

  /** The same token (verified once, then cached) may list exactly `allowed` among the namespaces. */
  async function assertMayList(allowed: string, refused: string[]): Promise<void> {
    const ok = await request(`${g.h.url}/system/functions?namespace=${allowed}`, { headers: bearer(token) });
    assert.equal(ok.status, 200, `${allowed}: ${ok.text}`);
    for (const ns of refused) {
      assertForbidden(await request(`${g.h.url}/system/functions?namespace=${ns}`, { headers: bearer(token) }), 'Function:List', `${ns}:*`);
    }
    assert.deepEqual(
      upstreamCalls(g.h).map((c) => c.url),
      [`/system/functions?namespace=${allowed}`],
    );
    g.h.openfaas.clearRequests();
  }

  const reloads = async () => ({
    applied: await metric(g.h, 'gateway_access_file_reloads_total', { outcome: 'applied' }),
    refused: await metric(g.h, 'gateway_access_file_reloads_total', { outcome: 'refused' }),
  });

  /** Error lines logged since line `from`. */
  const errorsSince = (from: number) =>
    log.lines
      .slice(from)
      .map((line) => JSON.parse(line) as { level: unknown; msg?: string })
      .filter((r) => r.level === 'error' || r.level === 50)
      .map((r) => r.msg ?? '');

  it('a new version applies at once to a token already verified under the old one', async () => {
    await assertMayList('dev', ['prod']);
    const before = await reloads();
    g.file.write(listIn('prod'));
    await reload();
    await assertMayList('prod', ['dev']);
    assert.deepEqual(await reloads(), { applied: before.applied + 1, refused: before.refused });
  });

  const broken: Array<{ title: string; write: (file: AccessFile) => void; mentions: string[] }> = [
    {
      title: 'YAML that does not parse',
      write: (file) => file.write(`${accessYaml(listIn('staging'))}---\napiVersion: iam.openfaas.com/v1\nkind: Policy\nmetadata: { name: [unclosed\n`),
      mentions: ['line'],
    },
    {
      title: 'an unknown action',
      write: (file) =>
        file.write([policy('lister', [{ action: ['Function:List', 'Function:Explode'], resource: ['staging:*'] }]), role('lister', ['lister'], { condition: CLIENT })]),
      mentions: ['Function:Explode', 'lister', 'action[1]'],
    },
    {
      title: 'a Role naming a Policy the file does not define',
      write: (file) => file.write([...listIn('staging'), role('dangling', ['lister', 'ghost-policy'], { condition: CLIENT })]),
      mentions: ['dangling', 'ghost-policy', 'policy[1]'],
    },
    {
      title: 'a JwtIssuer with the iss of the issuer variable',
      write: (file) => file.write([jwtIssuer('same-as-env', { iss: g.h.idp.issuer, aud: [AUDIENCE] }), ...listIn('staging')]),
      mentions: ['same-as-env', 'spec.iss'],
    },
    { title: 'an empty file', write: (file) => file.write(''), mentions: [] },
    { title: 'the file removed', write: (file) => unlinkSync(file.path), mentions: [] },
  ];

  for (const version of broken) {
    it(`a broken new version (${version.title}) is refused: the last good one stays, an error line, the refused metric rises`, async () => {
      const before = await reloads();
      const from = log.lines.length;
      version.write(g.file);
      await reload();
      await assertMayList('prod', ['dev', 'staging']);
      assert.deepEqual(await reloads(), { applied: before.applied, refused: before.refused + 1 });
      const errors = errorsSince(from);
      assert.equal(errors.length, 1, `expected one error line, got ${JSON.stringify(errors)}`);
      const line = errors[0] as string;
      assert.ok(line.includes('access_file') || line.includes(g.file.path), line);
      for (const mention of version.mentions) assert.ok(line.includes(mention), `the error line does not mention ${mention}: ${line}`);
    });
  }

  it('a fixed version after the broken ones applies (a JSON array of objects this time)', async () => {
    const before = await reloads();
    g.file.write(JSON.stringify(listIn('staging'), null, 2));
    await reload();
    await assertMayList('staging', ['prod', 'dev']);
    assert.deepEqual(await reloads(), { applied: before.applied + 1, refused: before.refused });
  });

  it('the poll finds a new version by itself within a few seconds', async () => {
    const before = await reloads();
    g.file.write(listIn('team'));
    const startedAt = Date.now();
    await waitUntil(
      async () => (await request(`${g.h.url}/system/functions?namespace=team`, { headers: bearer(token) })).status === 200,
      8000,
      { intervalMs: 200, message: 'the new version was not applied within 8 s' },
    );
    assert.ok(Date.now() - startedAt < 8000);
    g.h.openfaas.clearRequests();
    await assertMayList('team', ['staging']);
    assert.deepEqual(await reloads(), { applied: before.applied + 1, refused: before.refused });
  });
});

describe('a version written while the gateway starts', () => {
  let idp: TestIdentityProvider;
  let openfaas: OpenFaasStandIn;
  let secrets: string;
  let file: AccessFile;
  let gateway: RunningGateway | undefined;

  before(async () => {
    [idp, openfaas] = await Promise.all([
      TestIdentityProvider.start({ audience: AUDIENCE }),
      OpenFaasStandIn.start({ user: ADMIN_USER, password: ADMIN_PASSWORD, namespaces: ['dev', 'prod'] }),
    ]);
    secrets = mkdtempSync(join(tmpdir(), 'gateway-access-race-'));
    writeFileSync(join(secrets, 'basic-auth-user'), `${ADMIN_USER}\n`);
    writeFileSync(join(secrets, 'basic-auth-password'), `${ADMIN_PASSWORD}\n`);
    file = AccessFile.create(listIn('dev'));
  });
  after(async () => {
    await gateway?.close();
    await Promise.all([idp?.close(), openfaas?.close()]);
    rmSync(secrets, { recursive: true, force: true });
    file?.remove();
  });

  it(
    'is applied, at the latest on the next reload (the ConfigMap changed between reading the configuration and starting the modules)',
    async () => {
      const config = loadConfig({
        port: '0',
        metrics_port: '0',
        issuer: idp.issuer,
        audience: AUDIENCE,
        gateway_url: openfaas.url,
        secret_mount_path: secrets,
        access_file: file.path,
      });
      // The new version lands after the configuration was read, before the gateway is built.
      file.write(listIn('prod'));
      gateway = await startGateway(config, { host: '127.0.0.1', silent: true });
      await gateway.app.get(SigningKeysService).start();
      await gateway.app.get(AccessService).reload();
      const token = await idp.clientCredentialsToken();
      const url = `http://127.0.0.1:${gateway.port}/system/functions?namespace=`;
      assert.equal((await request(`${url}prod`, { headers: bearer(token) })).status, 200, 'the version on disk is not in force');
      assertForbidden(await request(`${url}dev`, { headers: bearer(token) }), 'Function:List', 'dev:*');
    },
  );
});

// ---------------------------------------------------------------------------------------------

/** The lines of stderr that list a problem. */
function problemLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /^\s*-\s/.test(line));
}

describe('a broken access file at start', () => {
  let dir: string;
  const spawned: GatewayProcess[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-access-boot-'));
    writeFileSync(join(dir, 'basic-auth-user'), `${ADMIN_USER}\n`);
    writeFileSync(join(dir, 'basic-auth-password'), `${ADMIN_PASSWORD}\n`);
  });
  after(() => {
    for (const p of spawned) p.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  async function boot(name: string, content: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
    const path = join(dir, name);
    writeFileSync(path, content);
    const gateway = GatewayProcess.spawn({ port: '0', metrics_port: '0', secret_mount_path: dir, access_file: path, ...env });
    spawned.push(gateway);
    const exit = await gateway.exitWithin(15_000);
    assert.equal(exit.signal, null);
    assert.equal(exit.code, 2, `exit ${exit.code}\n${gateway.log}`);
    assert.doesNotMatch(gateway.stderr, /^\s+at /m, 'a stack trace');
    return gateway;
  }

  it('exits 2 listing every problem, each with its object and field', async () => {
    const objects: IamObject[] = [
      { apiVersion: 'iam.openfaas.com/v1', kind: 'JwtIssuer', metadata: { name: 'partner' }, spec: { iss: 'not-a-url', aud: [] } },
      {
        apiVersion: 'iam.openfaas.com/v1',
        kind: 'Policy',
        metadata: { name: 'deploy' },
        spec: { statement: [{ sid: 'one', action: ['Function:Explode'], effect: 'Deny', resource: ['Dev:*'] }] },
      },
      {
        apiVersion: 'iam.openfaas.com/v1',
        kind: 'Role',
        metadata: { name: 'deployers' },
        spec: { policy: ['deploy', 'ghost'], condition: { StringNotEqual: { 'jwt:sub': ['x'] } } },
      },
      { apiVersion: 'iam.openfaas.com/v1', kind: 'Role', metadata: { name: 'bare-claim' }, spec: { policy: ['deploy'], condition: { StringEqual: { sub: ['x'] } } } },
      { apiVersion: 'iam.openfaas.com/v1', kind: 'Gadget', metadata: { name: 'odd' }, spec: {} },
    ];
    const gateway = await boot('many-problems.yaml', accessYaml(objects), { issuer: 'https://idp.example.com/realms/vendor', audience: AUDIENCE });
    const lines = problemLines(gateway.stderr);
    const expected: Array<[string, string]> = [
      ['partner', 'spec.iss'],
      ['partner', 'spec.aud'],
      ['deploy', 'spec.statement[0].action[0]'],
      ['deploy', 'spec.statement[0].effect'],
      ['deploy', 'spec.statement[0].resource[0]'],
      ['deployers', 'spec.policy[1]'],
      ['deployers', 'StringNotEqual'],
      ['bare-claim', 'sub'],
      ['document 5', 'kind'],
    ];
    for (const [object, field] of expected) {
      assert.ok(
        lines.some((line) => line.includes('access_file') && line.includes(object) && line.includes(field)),
        `no problem line names ${object} and ${field}:\n${gateway.stderr}`,
      );
    }
    assert.ok(!lines.some((line) => /^\s*-\s*(issuer|audience|secret_mount_path|port):/.test(line)), gateway.stderr);
  });

  it('exits 2 on YAML that does not parse, naming the line', async () => {
    const gateway = await boot('syntax.yaml', 'apiVersion: iam.openfaas.com/v1\nkind: Role\nmetadata: {name: x\n  spec: [\n', {
      issuer: 'https://idp.example.com/realms/vendor',
      audience: AUDIENCE,
    });
    assert.ok(problemLines(gateway.stderr).some((line) => line.includes('access_file') && /line \d+/.test(line)), gateway.stderr);
  });

  it('exits 2 when a JwtIssuer has the iss of the issuer variable, or of another JwtIssuer', async () => {
    const iss = 'https://idp.example.com/realms/vendor';
    const objects = [jwtIssuer('twin-of-env', { iss, aud: ['x'] }), ...listIn('dev')];
    const [env, twice] = await Promise.all([
      boot('same-iss.yaml', accessYaml(objects), { issuer: iss, audience: AUDIENCE }),
      boot('same-iss-twice.yaml', accessYaml([jwtIssuer('first', { iss, aud: ['x'] }), jwtIssuer('second', { iss, aud: ['y'] }), ...listIn('dev')])),
    ]);
    assert.ok(problemLines(env.stderr).some((line) => line.includes('twin-of-env') && line.includes('spec.iss')), env.stderr);
    assert.ok(problemLines(twice.stderr).some((line) => line.includes('second') && line.includes('spec.iss') && line.includes('first')), twice.stderr);
  });
});
