import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestIdentityProvider } from '../support/identity-provider';
import { waitUntil } from '../support/wait';
import { allOutputs, AUDIENCE, childEnv, FleetGateway, runFedgw, TempDirs, writeConfig } from './fleet-fixture';

/**
 * `fedgw faas-cli` with a recording stand-in for the faas-cli binary: a real executable first on
 * PATH that writes down its argv, OPENFAAS_CONFIG and that folder's state, then exits with the
 * code it is told (or waits for a signal and records it).
 */

const SECRET = 'faas-cli-spec-secret-77a0d4';

const STAND_IN = `#!${process.execPath}
const fs = require('node:fs');
const dir = process.env.OPENFAAS_CONFIG;
const stat = dir && fs.existsSync(dir) ? fs.statSync(dir) : undefined;
const record = {
  argv: process.argv.slice(2),
  openfaasConfig: dir,
  isDirectory: stat ? stat.isDirectory() : false,
  mode: stat ? stat.mode & 0o777 : null,
  entries: stat ? fs.readdirSync(dir) : null,
};
fs.writeFileSync(process.env.FAKE_FAAS_RECORD, JSON.stringify(record));
if (process.env.FAKE_FAAS_WAIT) {
  process.on('SIGTERM', () => {
    fs.writeFileSync(process.env.FAKE_FAAS_RECORD + '.signal', 'SIGTERM');
    process.exit(42);
  });
  fs.writeFileSync(process.env.FAKE_FAAS_RECORD + '.ready', 'ready');
  setInterval(() => {}, 1000);
} else {
  process.exit(Number(process.env.FAKE_FAAS_EXIT || 0));
}
`;

interface Recorded {
  argv: string[];
  openfaasConfig: string;
  isDirectory: boolean;
  mode: number | null;
  entries: string[] | null;
}

describe('fedgw faas-cli', () => {
  const dirs = new TempDirs();
  let idp: TestIdentityProvider;
  let gateway: FleetGateway;
  let home: string;
  let bin: string;
  let env: NodeJS.ProcessEnv;
  let recordFile: string;
  let recordCount = 0;

  before(async () => {
    idp = await TestIdentityProvider.start({ audience: AUDIENCE, clients: [{ clientId: 'vendor', clientSecret: SECRET }] });
    gateway = await FleetGateway.start(idp.issuer, [{ name: 'shasum', image: 'ghcr.io/openfaas/shasum:latest' }]);
    home = dirs.make('fedgw-faas-home-');
    bin = join(home, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'faas-cli'), STAND_IN, { mode: 0o755 });
    // A stored login for this gateway, as `faas-cli login` would leave it: it must not be used.
    mkdirSync(join(home, '.openfaas'));
    writeFileSync(join(home, '.openfaas', 'config.yml'), `auths:\n- gateway: ${gateway.url}\n  auth: basic\n  token: YWRtaW46c3RvcmVk\n`);
    const config = writeConfig(home, {
      clusters: {
        customer: { gateway: gateway.url, issuer: idp.issuer, clientId: 'vendor', clientSecretEnv: 'VENDOR_SECRET' },
        broken: { gateway: gateway.url, issuer: idp.issuer, clientId: 'vendor', clientSecretEnv: 'NOT_SET' },
      },
    });
    env = childEnv(home, { FEDGW_CONFIG: config, VENDOR_SECRET: SECRET, PATH: `${bin}:${process.env.PATH}`, OPENFAAS_CONFIG: join(home, '.openfaas') });
  });

  after(async () => {
    await gateway?.close();
    await idp?.close();
    dirs.removeAll();
  });

  const nextRecord = () => join(home, `record-${++recordCount}.json`);
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Recorded;

  it('runs faas-cli ARGS -g GATEWAY --token TOKEN with a fresh empty private OPENFAAS_CONFIG', async () => {
    recordFile = nextRecord();
    const run = await runFedgw(['faas-cli', 'customer', '--', 'list', '-n', 'openfaas-fn', '--verbose'], { ...env, FAKE_FAAS_RECORD: recordFile });
    assert.equal(run.code, 0, run.stderr);
    const rec = read(recordFile);
    assert.deepEqual(rec.argv.slice(0, 6), ['list', '-n', 'openfaas-fn', '--verbose', '-g', gateway.url]);
    assert.equal(rec.argv[6], '--token');
    assert.equal(rec.argv.length, 8);
    // The token is a real one the gateway accepts.
    const res = await fetch(`${gateway.url}/system/functions`, { headers: { authorization: `Bearer ${rec.argv[7]}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as Array<{ name: string }>).map((f) => f.name), ['shasum']);

    assert.notEqual(rec.openfaasConfig, join(home, '.openfaas'));
    assert.equal(rec.isDirectory, true);
    assert.equal(rec.mode, 0o700);
    assert.deepEqual(rec.entries, []);
    assert.equal(existsSync(rec.openfaasConfig), false, 'the folder is removed afterwards');
  });

  it("passes faas-cli's exit code through", async () => {
    for (const code of [3, 1, 0]) {
      const run = await runFedgw(['faas-cli', 'customer', '--', 'describe', 'shasum'], { ...env, FAKE_FAAS_RECORD: nextRecord(), FAKE_FAAS_EXIT: String(code) });
      assert.equal(run.code, code);
    }
  });

  it('forwards SIGTERM to faas-cli and exits with its code', async () => {
    recordFile = nextRecord();
    let pid = 0;
    const running = runFedgw(['faas-cli', 'customer', '--', 'logs', 'shasum'], { ...env, FAKE_FAAS_RECORD: recordFile, FAKE_FAAS_WAIT: '1' }, { onSpawn: (p) => (pid = p) });
    await waitUntil(() => existsSync(`${recordFile}.ready`), 10_000);
    process.kill(pid, 'SIGTERM');
    const run = await running;
    assert.equal(readFileSync(`${recordFile}.signal`, 'utf8'), 'SIGTERM');
    assert.equal(run.code, 42);
    assert.equal(existsSync(read(recordFile).openfaasConfig), false);
  });

  it('FEDGW_FAAS_CLI names the binary when it is not on PATH', async () => {
    recordFile = nextRecord();
    const run = await runFedgw(['faas-cli', 'customer', '--', 'version'], {
      ...env,
      PATH: '/nonexistent',
      FEDGW_FAAS_CLI: join(bin, 'faas-cli'),
      FAKE_FAAS_RECORD: recordFile,
      FAKE_FAAS_EXIT: '5',
    });
    assert.equal(run.code, 5, run.stderr);
    assert.equal(read(recordFile).argv[0], 'version');
  });

  it('no faas-cli on PATH: exit 2 with a clear error', async () => {
    const run = await runFedgw(['faas-cli', 'customer', '--', 'list'], { ...env, PATH: '/nonexistent' });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /faas-cli was not found on PATH; install faas-cli or set FEDGW_FAAS_CLI/);
  });

  it('no token: exit 1 naming why, faas-cli not run', async () => {
    recordFile = nextRecord();
    const run = await runFedgw(['faas-cli', 'broken', '--', 'list'], { ...env, FAKE_FAAS_RECORD: recordFile });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /broken: clientSecretEnv: environment variable NOT_SET is not set/);
    assert.equal(existsSync(recordFile), false);
  });

  it('never shows the secret', () => {
    assert.ok(allOutputs.length > 0);
    assert.ok(allOutputs.every((t) => !t.includes(SECRET)));
  });
});
