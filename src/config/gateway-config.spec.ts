import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, GatewayConfig, loadConfig, readSecretFile } from './gateway-config';

type Env = Record<string, string | undefined>;

const ISSUER = 'https://keycloak.example.com/realms/vendor';
const AUDIENCE = 'openfaas-gateway';

/** A folder holding the two basic-auth files, as the chart mounts the `basic-auth` secret. */
function secretFolder(user: string | null = 'admin\n', password: string | null = 'p4ssw0rd\n'): string {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-config-spec-'));
  if (user !== null) writeFileSync(join(dir, 'basic-auth-user'), user);
  if (password !== null) writeFileSync(join(dir, 'basic-auth-password'), password);
  return dir;
}

/** The problems loadConfig reports for `env`; fails when it accepts the environment. */
function problemsOf(env: Env): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.ok(err.problems.length > 0, 'a ConfigError must carry at least one problem');
    for (const problem of err.problems) assert.ok(err.message.includes(problem), `the message must list "${problem}"`);
    return err.problems;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** The problems naming `variable` (each problem begins with the variable it is about). */
function problemsFor(problems: readonly string[], variable: string): string[] {
  return problems.filter((p) => p.startsWith(`${variable}:`) || p.startsWith(`${variable} `));
}

function assertProblem(env: Env, variable: string, ...mentions: Array<string | RegExp>): string {
  const problems = problemsOf(env);
  const mine = problemsFor(problems, variable);
  assert.equal(mine.length >= 1, true, `expected a problem naming ${variable}, got ${JSON.stringify(problems)}`);
  const text = mine.join('\n');
  for (const m of mentions) {
    if (typeof m === 'string') assert.ok(text.includes(m), `the ${variable} problem should mention "${m}": ${text}`);
    else assert.match(text, m);
  }
  return text;
}

describe(loadConfig.name, () => {
  let secrets: string;
  let base: Env;
  const config = (env: Env = {}): GatewayConfig => loadConfig({ ...base, ...env });

  before(() => {
    secrets = secretFolder();
    base = { issuer: ISSUER, audience: AUDIENCE, secret_mount_path: secrets };
  });
  after(() => rmSync(secrets, { recursive: true, force: true }));

  describe('defaults (contract.md table)', () => {
    it('port defaults to 8080', () => assert.equal(config().port, 8080));
    it('metrics_port defaults to 8082', () => assert.equal(config().metricsPort, 8082));
    it('gateway_url defaults to http://gateway.openfaas:8080', () => {
      const url = config().gatewayUrl;
      assert.equal(url.origin, 'http://gateway.openfaas:8080');
      assert.equal(url.pathname, '/');
    });
    it('allow_invoke defaults to false', () => assert.equal(config().allowInvoke, false));
    it('jwks_url defaults to none (taken from discovery)', () => assert.equal(config().issuers[0].jwksUrl, undefined));
    it('algorithms default to RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512', () => {
      assert.deepEqual([...config().issuers[0].algorithms], ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']);
    });
    it('clock_skew defaults to 30s', () => assert.equal(config().clockSkewMs, 30_000));
    it('audience_claims defaults to aud', () => assert.deepEqual([...config().issuers[0].audienceClaims], ['aud']));
    it('jwks_refresh defaults to 5m', () => assert.equal(config().jwksRefreshMs, 5 * 60_000));
    it('jwks_cooldown defaults to 30s', () => assert.equal(config().jwksCooldownMs, 30_000));
    it('upstream_timeout defaults to 60s', () => assert.equal(config().upstreamTimeoutMs, 60_000));
    it('read_timeout defaults to 65s', () => assert.equal(config().readTimeoutMs, 65_000));
    it('write_timeout defaults to 65s', () => assert.equal(config().writeTimeoutMs, 65_000));
    it('log_encoding defaults to console', () => assert.equal(config().logEncoding, 'console'));
    it('debug defaults to false', () => assert.equal(config().debug, false));

    it('secret_mount_path defaults to /var/secrets', () => {
      const env: Env = { issuer: ISSUER, audience: AUDIENCE };
      let loaded: GatewayConfig | undefined;
      let problems: readonly string[] = [];
      try {
        loaded = loadConfig(env);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        problems = err.problems;
      }
      if (loaded) {
        assert.equal(loaded.secretMountPath, '/var/secrets');
      } else {
        // No secret mounted on this machine: the problems say where it was looked for.
        const text = problemsFor(problems, 'secret_mount_path').join('\n');
        assert.ok(text.includes(join('/var/secrets', 'basic-auth-user')), text);
        assert.ok(text.includes(join('/var/secrets', 'basic-auth-password')), text);
      }
    });

    it('issuer and audience are required, and both are reported at once', () => {
      const problems = problemsOf({ secret_mount_path: secrets });
      assert.equal(problemsFor(problems, 'issuer').length, 1, JSON.stringify(problems));
      assert.equal(problemsFor(problems, 'audience').length, 1, JSON.stringify(problems));
      assert.match(problemsFor(problems, 'issuer')[0] as string, /required/);
      assert.match(problemsFor(problems, 'audience')[0] as string, /required/);
    });

    it('an empty value counts as unset (Helm renders unset values as "")', () => {
      const c = config({ port: '', metrics_port: '', gateway_url: '', allow_invoke: '', clock_skew: '', algorithms: '', log_encoding: '', debug: '', jwks_url: '' });
      assert.equal(c.port, 8080);
      assert.equal(c.metricsPort, 8082);
      assert.equal(c.gatewayUrl.origin, 'http://gateway.openfaas:8080');
      assert.equal(c.allowInvoke, false);
      assert.equal(c.clockSkewMs, 30_000);
      assert.equal(c.issuers[0].algorithms.length, 9);
      assert.equal(c.logEncoding, 'console');
      assert.equal(c.debug, false);
      assert.equal(c.issuers[0].jwksUrl, undefined);
    });

    it('an empty issuer or audience is as missing as an unset one', () => {
      const problems = problemsOf({ issuer: '  ', audience: '', secret_mount_path: secrets });
      assert.equal(problemsFor(problems, 'issuer').length, 1, JSON.stringify(problems));
      assert.equal(problemsFor(problems, 'audience').length, 1, JSON.stringify(problems));
    });
  });

  describe('values given', () => {
    it('takes every variable of the table', () => {
      const c = config({
        port: '9090',
        metrics_port: '9092',
        gateway_url: 'https://gateway.openfaas.svc:8443',
        allow_invoke: 'true',
        jwks_url: 'https://keys.example.com/jwks.json',
        algorithms: 'ES256',
        clock_skew: '10s',
        audience_claims: 'aud,azp',
        jwks_refresh: '10m',
        jwks_cooldown: '5s',
        upstream_timeout: '2m',
        read_timeout: '70',
        write_timeout: '1m15s',
        log_encoding: 'json',
        debug: 'true',
      });
      assert.equal(c.port, 9090);
      assert.equal(c.metricsPort, 9092);
      assert.equal(c.gatewayUrl.origin, 'https://gateway.openfaas.svc:8443');
      assert.equal(c.issuers[0].iss, ISSUER);
      assert.deepEqual([...c.issuers[0].audiences], [AUDIENCE]);
      assert.equal(c.allowInvoke, true);
      assert.equal(c.secretMountPath, secrets);
      assert.equal(c.issuers[0].jwksUrl, 'https://keys.example.com/jwks.json');
      assert.deepEqual([...c.issuers[0].algorithms], ['ES256']);
      assert.equal(c.clockSkewMs, 10_000);
      assert.deepEqual([...c.issuers[0].audienceClaims], ['aud', 'azp']);
      assert.equal(c.jwksRefreshMs, 10 * 60_000);
      assert.equal(c.jwksCooldownMs, 5_000);
      assert.equal(c.upstreamTimeoutMs, 120_000);
      assert.equal(c.readTimeoutMs, 70_000);
      assert.equal(c.writeTimeoutMs, 75_000);
      assert.equal(c.logEncoding, 'json');
      assert.equal(c.debug, true);
    });

    it('keeps the issuer exactly as given (tokens must match it byte for byte)', () => {
      assert.equal(config({ issuer: 'https://tenant.auth0.com/' }).issuers[0].iss, 'https://tenant.auth0.com/');
      assert.equal(config({ issuer: 'https://login.microsoftonline.com/TENANT/v2.0' }).issuers[0].iss, 'https://login.microsoftonline.com/TENANT/v2.0');
    });

    it('trims surrounding whitespace from values', () => {
      const c = config({
        issuer: `  ${ISSUER}\n`,
        audience: ' openfaas-gateway ',
        port: ' 9090 ',
        allow_invoke: ' true ',
        clock_skew: ' 1m05s ',
        log_encoding: ' json ',
        algorithms: ' RS256 , ES256 ',
        secret_mount_path: ` ${secrets} `,
      });
      assert.equal(c.issuers[0].iss, ISSUER);
      assert.deepEqual([...c.issuers[0].audiences], [AUDIENCE]);
      assert.equal(c.port, 9090);
      assert.equal(c.allowInvoke, true);
      assert.equal(c.clockSkewMs, 65_000);
      assert.equal(c.logEncoding, 'json');
      assert.deepEqual([...c.issuers[0].algorithms], ['RS256', 'ES256']);
      assert.equal(c.secretMountPath, secrets);
    });

    it('port=0 asks for a free port (startGateway documents it and the e2e harness relies on it)', () => {
      const c = config({ port: '0', metrics_port: '0' });
      assert.equal(c.port, 0);
      assert.equal(c.metricsPort, 0);
    });
  });

  describe('durations: whole seconds or Go durations', () => {
    const cases: Array<[string, number]> = [
      ['60', 60_000],
      ['1m05s', 65_000],
      ['500ms', 500],
      ['1h2m3s', 3_723_000],
      ['90s', 90_000],
    ];
    for (const [text, ms] of cases) {
      it(`upstream_timeout="${text}" is ${ms} ms`, () => assert.equal(config({ upstream_timeout: text }).upstreamTimeoutMs, ms));
    }

    it('applies to every duration variable', () => {
      const c = config({ clock_skew: '60', jwks_refresh: '1m05s', jwks_cooldown: '500ms', read_timeout: '1h2m3s', write_timeout: '2m' });
      assert.equal(c.clockSkewMs, 60_000);
      assert.equal(c.jwksRefreshMs, 65_000);
      assert.equal(c.jwksCooldownMs, 500);
      assert.equal(c.readTimeoutMs, 3_723_000);
      assert.equal(c.writeTimeoutMs, 120_000);
    });

    it('clock_skew may be 0 (no leeway)', () => assert.equal(config({ clock_skew: '0' }).clockSkewMs, 0));

    for (const variable of ['clock_skew', 'jwks_refresh', 'jwks_cooldown', 'upstream_timeout', 'read_timeout', 'write_timeout']) {
      for (const bad of ['soon', '1d', '5 s', '1.5', '-5s', '1m5']) {
        it(`${variable}="${bad}" is a problem naming ${variable} and the valid forms`, () => {
          assertProblem({ ...base, [variable]: bad }, variable, `"${bad}"`, /1m05s|whole seconds/);
        });
      }
    }
  });

  describe('booleans', () => {
    const words: Array<[string, boolean]> = [
      ['true', true],
      ['false', false],
      ['1', true],
      ['0', false],
      ['T', true],
      ['F', false],
      ['t', true],
      ['f', false],
      ['TRUE', true],
      ['FALSE', false],
      ['True', true],
      ['False', false],
    ];
    for (const [word, value] of words) {
      it(`allow_invoke="${word}" is ${value}`, () => assert.equal(config({ allow_invoke: word }).allowInvoke, value));
      it(`debug="${word}" is ${value}`, () => assert.equal(config({ debug: word }).debug, value));
    }
    for (const bad of ['yes', 'no', 'on', '2', 'truee', 'enabled']) {
      it(`allow_invoke="${bad}" is a problem naming allow_invoke`, () => {
        assertProblem({ ...base, allow_invoke: bad }, 'allow_invoke', `"${bad}"`, /true|false/);
      });
    }
  });

  describe('audience', () => {
    it('is a comma-separated list; spaces around items are dropped', () => {
      assert.deepEqual([...config({ audience: 'openfaas-gateway, api://default ,  https://api.example.com ' }).issuers[0].audiences], [
        'openfaas-gateway',
        'api://default',
        'https://api.example.com',
      ]);
    });

    it('ignores empty items between commas', () => {
      assert.deepEqual([...config({ audience: 'a,,b,' }).issuers[0].audiences], ['a', 'b']);
    });

    it('a list of nothing but commas and spaces is a problem naming audience', () => {
      assertProblem({ ...base, audience: ' , ,' }, 'audience');
    });
  });

  describe('algorithms', () => {
    it('takes a subset of the asymmetric algorithms', () => {
      assert.deepEqual([...config({ algorithms: 'RS256, ES256' }).issuers[0].algorithms], ['RS256', 'ES256']);
      assert.deepEqual([...config({ algorithms: 'PS512' }).issuers[0].algorithms], ['PS512']);
    });

    for (const bad of ['HS256', 'HS384', 'HS512', 'hs256', 'none', 'None', 'NONE']) {
      it(`refuses "${bad}" with a message saying it is never accepted`, () => {
        const text = assertProblem({ ...base, algorithms: bad }, 'algorithms', bad, /never/);
        // What would be valid: the asymmetric algorithms.
        assert.match(text, /RS256/);
      });
    }

    it('refuses a symmetric algorithm mixed with good ones instead of dropping it silently', () => {
      assertProblem({ ...base, algorithms: 'HS256,RS256' }, 'algorithms', 'HS256', /never/);
    });

    it('refuses an unknown algorithm, naming the supported ones', () => {
      assertProblem({ ...base, algorithms: 'RS1024' }, 'algorithms', 'RS1024', /PS256/);
    });
  });

  describe('other variables', () => {
    for (const bad of ['abc', '70000', '-1', '80.5', '65536']) {
      it(`port="${bad}" is a problem naming port`, () => {
        assertProblem({ ...base, port: bad }, 'port', `"${bad}"`, /65535/);
      });
      it(`metrics_port="${bad}" is a problem naming metrics_port`, () => {
        assertProblem({ ...base, metrics_port: bad }, 'metrics_port', `"${bad}"`, /65535/);
      });
    }

    for (const bad of ['gateway.openfaas:8080', 'ftp://gateway.openfaas', 'not a url']) {
      it(`gateway_url="${bad}" is a problem naming gateway_url`, () => {
        assertProblem({ ...base, gateway_url: bad }, 'gateway_url', /http/);
      });
    }

    it('issuer must be an http(s) URL', () => {
      assertProblem({ ...base, issuer: 'keycloak.example.com' }, 'issuer', /http/);
    });
    it('jwks_url must be an http(s) URL', () => {
      assertProblem({ ...base, jwks_url: 'file:///etc/jwks.json' }, 'jwks_url', /http/);
    });

    it('log_encoding is console or json', () => {
      assert.equal(config({ log_encoding: 'json' }).logEncoding, 'json');
      assert.equal(config({ log_encoding: 'console' }).logEncoding, 'console');
      assertProblem({ ...base, log_encoding: 'xml' }, 'log_encoding', '"xml"', 'console', 'json');
    });

    it('audience_claims takes aud,azp and refuses unknown claims', () => {
      assert.deepEqual([...config({ audience_claims: 'aud, azp' }).issuers[0].audienceClaims], ['aud', 'azp']);
      assertProblem({ ...base, audience_claims: 'aud,nonsense' }, 'audience_claims', 'nonsense');
    });
  });

  describe('every problem at once', () => {
    it('lists one problem per bad variable, each naming it', () => {
      const empty = secretFolder(null, null);
      try {
        const problems = problemsOf({
          port: 'abc',
          clock_skew: 'soon',
          algorithms: 'HS256,RS256',
          log_encoding: 'xml',
          allow_invoke: 'maybe',
          upstream_timeout: 'forever',
          secret_mount_path: empty,
        });
        for (const variable of ['issuer', 'audience', 'port', 'clock_skew', 'algorithms', 'log_encoding', 'allow_invoke', 'upstream_timeout']) {
          assert.equal(problemsFor(problems, variable).length >= 1, true, `no problem names ${variable}: ${JSON.stringify(problems)}`);
        }
        const secretProblems = problemsFor(problems, 'secret_mount_path').join('\n');
        assert.ok(secretProblems.includes('basic-auth-user'), secretProblems);
        assert.ok(secretProblems.includes('basic-auth-password'), secretProblems);
        for (const problem of problems) assert.match(problem, /^[a-z_]+: /, `every problem begins with its variable: ${problem}`);
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });

    it('a malformed issuer is listed together with the other problems', () => {
      const problems = problemsOf({ ...base, issuer: 'keycloak.example.com', port: 'abc', log_encoding: 'xml' });
      for (const variable of ['issuer', 'port', 'log_encoding']) {
        assert.equal(problemsFor(problems, variable).length, 1, `no problem names ${variable}: ${JSON.stringify(problems)}`);
      }
    });
  });

  describe('secret files under secret_mount_path', () => {
    const cases: Array<[string, string | null, string | null, string[]]> = [
      ['a missing folder', null, null, ['basic-auth-user', 'basic-auth-password']],
      ['a missing password file', 'admin\n', null, ['basic-auth-password']],
      ['a missing user file', null, 'secret\n', ['basic-auth-user']],
      ['an empty password file', 'admin\n', '', ['basic-auth-password']],
      ['an empty user file', '', 'secret\n', ['basic-auth-user']],
      ['a whitespace-only password file', 'admin\n', '  \n\t \r\n', ['basic-auth-password']],
      ['a whitespace-only user file', ' \n', 'secret\n', ['basic-auth-user']],
    ];
    for (const [what, user, password, named] of cases) {
      it(`${what} is a problem naming secret_mount_path and the file`, () => {
        const dir = what === 'a missing folder' ? join(tmpdir(), `gateway-config-spec-absent-${process.pid}-${Date.now()}`) : secretFolder(user, password);
        try {
          const problems = problemsOf({ issuer: ISSUER, audience: AUDIENCE, secret_mount_path: dir });
          const mine = problemsFor(problems, 'secret_mount_path');
          assert.equal(mine.length, named.length, JSON.stringify(problems));
          for (const file of named) assert.ok(mine.some((p) => p.includes(join(dir, file))), `${file} not named in ${JSON.stringify(mine)}`);
          assert.equal(problems.length, named.length, `only the secret is wrong here: ${JSON.stringify(problems)}`);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }

    it('a folder where a file should be is a problem naming secret_mount_path', () => {
      const dir = secretFolder('admin\n', null);
      try {
        mkdirSync(join(dir, 'basic-auth-password'));
        const text = assertProblem({ issuer: ISSUER, audience: AUDIENCE, secret_mount_path: dir }, 'secret_mount_path', 'basic-auth-password');
        assert.doesNotMatch(text, /basic-auth-user/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a secret file with surrounding whitespace is accepted', () => {
      const dir = secretFolder('  admin \n', '\t p4ss word \r\n');
      try {
        assert.equal(loadConfig({ issuer: ISSUER, audience: AUDIENCE, secret_mount_path: dir }).secretMountPath, dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe(readSecretFile.name, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-secret-spec-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trims surrounding whitespace and keeps inner whitespace, as OpenFaaS does', () => {
    writeFileSync(join(dir, 'user'), '  admin \n');
    writeFileSync(join(dir, 'password'), '\t p4ss word \r\n');
    assert.equal(readSecretFile(join(dir, 'user')), 'admin');
    assert.equal(readSecretFile(join(dir, 'password')), 'p4ss word');
  });

  it('keeps a value without whitespace as it is', () => {
    writeFileSync(join(dir, 'exact'), 'S3cr3t:with:colons');
    assert.equal(readSecretFile(join(dir, 'exact')), 'S3cr3t:with:colons');
  });

  it('throws for an empty or whitespace-only file', () => {
    writeFileSync(join(dir, 'empty'), '');
    writeFileSync(join(dir, 'blank'), ' \n\t\r\n');
    assert.throws(() => readSecretFile(join(dir, 'empty')));
    assert.throws(() => readSecretFile(join(dir, 'blank')));
  });

  it('throws for a missing file', () => {
    assert.throws(() => readSecretFile(join(dir, 'absent')), { code: 'ENOENT' });
  });
});
