import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv, runFedgw, TempDirs, writeConfig } from './fleet-fixture';

/** Exit 2: bad configuration (every problem at once, naming cluster and key) and bad usage. */
describe('fedgw usage and configuration errors', () => {
  const dirs = new TempDirs();
  let home: string;
  let good: string;

  before(() => {
    home = dirs.make('fedgw-usage-home-');
    good = writeConfig(home, {
      clusters: {
        one: { gateway: 'https://one.example', issuer: 'https://idp.example/realms/vendor', clientId: 'one', clientSecretEnv: 'ONE' },
        two: { gateway: 'https://two.example', issuer: 'https://idp.example/realms/vendor', clientId: 'two', clientSecretEnv: 'TWO' },
      },
    });
  });

  after(() => dirs.removeAll());

  it('lists every problem of a bad configuration file at once, exit 2', async () => {
    const file = join(home, 'bad.yaml');
    writeFileSync(
      file,
      `defaults:
  issuer: ftp://idp.example
  colour: red
clusters:
  a:
    gateway: https://a.example
    clientId: a
    clientSecretFile: /run/a
    clientSecretEnv: A_SECRET
    tokenUrl: not a url
  b:
    issuer: https://idp.example
  c:
    gateway: https://c.example
    clientId: c
    clientSecretCommand: vault read c
    scopes: typo
`,
    );
    const run = await runFedgw(['status', '--config', file], childEnv(home));
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    const expected = [
      /defaults\.issuer: must be an http\(s\) URL/,
      /defaults\.colour: unknown key/,
      /clusters\.a\.tokenUrl: must be an http\(s\) URL/,
      /clusters\.a: clientSecretFile and clientSecretEnv are both set; keep one secret source/,
      /clusters\.b: gateway is required/,
      /clusters\.b: clientId is required/,
      /clusters\.b: clientSecretFile, clientSecretEnv or clientSecretCommand is required/,
      /clusters\.c\.scopes: unknown key/,
    ];
    for (const problem of expected) assert.match(run.stderr, problem);
    assert.equal(run.stderr.trimEnd().split('\n').length, expected.length, run.stderr);
  });

  it('a cluster with neither issuer nor tokenUrl is a problem', async () => {
    const file = writeConfig(home, { clusters: { x: { gateway: 'https://x.example', clientId: 'x', clientSecretEnv: 'X' } } }, 'no-issuer.yaml');
    const run = await runFedgw(['clusters', '--config', file], childEnv(home));
    assert.equal(run.code, 2);
    assert.match(run.stderr, /clusters\.x: issuer or tokenUrl is required/);
  });

  it('a missing configuration file names the path, exit 2', async () => {
    const run = await runFedgw(['clusters'], childEnv(home));
    assert.equal(run.code, 2);
    assert.match(run.stderr, new RegExp(`${join(home, '.config', 'fedgw', 'clusters.yaml')} cannot be read \\(ENOENT\\)`));
  });

  it('FEDGW_CONFIG names the file; clusters prints one a line', async () => {
    const run = await runFedgw(['clusters'], childEnv(home, { FEDGW_CONFIG: good }));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'one\ntwo\n');
  });

  it('an unknown cluster is named, with the configured ones, exit 2', async () => {
    const run = await runFedgw(['status', 'one', 'three', '--config', good], childEnv(home));
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown cluster "three" \(configured: one, two\)/);
    const token = await runFedgw(['token', 'nope', '--config', good], childEnv(home));
    assert.equal(token.code, 2);
    assert.match(token.stderr, /unknown cluster "nope"/);
  });

  it('bad options and a missing command are usage errors, exit 2', async () => {
    for (const args of [['status', '--timeout', 'soon'], ['status', '--concurrency', '0'], ['query'], ['frobnicate'], ['token']]) {
      const run = await runFedgw([...args, '--config', good], childEnv(home));
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.notEqual(run.stderr, '');
    }
    const help = await runFedgw(['--help'], childEnv(home));
    assert.equal(help.code, 0);
    for (const command of ['clusters', 'token', 'faas-cli', 'status', 'functions', 'diagnose', 'query']) assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
  });
});
