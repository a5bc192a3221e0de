import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_BASIC, ADMIN_PASSWORD, ADMIN_USER, AUDIENCE } from './harness';
import { GatewayProcess } from '../support/gateway-process';
import { closedPort, request } from '../support/http-client';
import { TestIdentityProvider } from '../support/identity-provider';
import { OpenFaasStandIn } from '../support/openfaas-stand-in';
import { canConnect } from '../support/ports';
import { sleep, waitUntil } from '../support/wait';

/**
 * The real process, as operators run it (`node dist/main.js`; here the tsc output in build/),
 * with nothing but the environment variables of contract.md.
 */

/** TCP ports the process itself listens on (Linux: its socket fds matched against /proc/net/tcp*). */
function listeningPorts(pid: number): number[] {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .filter((inode): inode is string => inode !== undefined),
    );
  } catch {
    return []; // the process is gone
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is cols[1] (ADDR:PORT in hex), st is cols[3] (0A = LISTEN), inode is cols[9].
      if (cols[3] === '0A' && inodes.has(cols[9] as string)) ports.push(parseInt((cols[1] as string).split(':')[1] as string, 16));
    }
  }
  return ports;
}

/** The problem lines of a ConfigError on stderr: `  - variable: message`. */
function problemLines(stderr: string): Array<{ variable: string; line: string }> {
  return stderr
    .split('\n')
    .map((line) => ({ line, m: /^\s*-\s*([a-z_]+):\s/.exec(line) }))
    .filter(({ m }) => m)
    .map(({ line, m }) => ({ variable: (m as RegExpExecArray)[1] as string, line }));
}

interface BadBoot {
  title: string;
  env: Record<string, string>;
  /** Variables that must each have a problem line, with what the line must say. */
  expect: Record<string, RegExp[]>;
}

const BAD_BOOTS: BadBoot[] = [
  {
    title: 'no issuer, no audience, port=abc, clock_skew=soon, algorithms=HS256,RS256, log_encoding=xml, empty secret folder',
    env: { port: 'abc', clock_skew: 'soon', algorithms: 'HS256,RS256', log_encoding: 'xml' },
    expect: {
      issuer: [/required/],
      audience: [/required/],
      port: [/abc/, /65535/],
      clock_skew: [/soon/, /1m05s|whole seconds/],
      algorithms: [/HS256/, /PS256/],
      log_encoding: [/xml/, /console/, /json/],
      secret_mount_path: [/basic-auth-user/, /basic-auth-password/],
    },
  },
  {
    title: 'a malformed issuer among other problems',
    env: { issuer: 'keycloak.example.com/realms/vendor', port: 'abc', upstream_timeout: 'forever' },
    expect: {
      issuer: [/keycloak\.example\.com/, /http/],
      audience: [/required/],
      port: [/abc/],
      upstream_timeout: [/forever/],
      secret_mount_path: [/basic-auth-user/, /basic-auth-password/],
    },
  },
];

for (const bad of BAD_BOOTS) {
  describe(`boot with a bad environment: ${bad.title}`, () => {
    let emptySecrets: string;
    let gateway: GatewayProcess;
    let metricsPort: number;
    const opened = new Set<number>();
    let connectedToMetrics = false;

    before(async () => {
      emptySecrets = mkdtempSync(join(tmpdir(), 'gateway-boot-empty-'));
      metricsPort = await closedPort();
      gateway = GatewayProcess.spawn({ ...bad.env, metrics_port: String(metricsPort), secret_mount_path: emptySecrets });
      const pid = gateway.child.pid as number;
      // Watch for a listening socket until the process is gone.
      while (!gateway.exit) {
        for (const port of listeningPorts(pid)) opened.add(port);
        if (!connectedToMetrics && (await canConnect(metricsPort))) connectedToMetrics = true;
        await Promise.race([gateway.exited, sleep(5)]);
      }
    });
    after(() => {
      gateway?.kill();
      if (emptySecrets) rmSync(emptySecrets, { recursive: true, force: true });
    });

    it('exits with a non-zero code, by itself', async () => {
      const exit = await gateway.exitWithin(15_000);
      assert.equal(exit.signal, null, `killed by ${exit.signal}`);
      assert.notEqual(exit.code, 0);
      assert.notEqual(exit.code, null);
    });

    it('opens no port before exiting', () => {
      assert.deepEqual([...opened], [], `the process listened on ${[...opened].join(', ')}`);
      assert.equal(connectedToMetrics, false, `something answered on metrics_port ${metricsPort}`);
      assert.doesNotMatch(gateway.stdout + gateway.stderr, /listening on/i);
    });

    it('lists every problem at once on stderr, each naming its variable', () => {
      const named = new Set(problemLines(gateway.stderr).map((p) => p.variable));
      for (const variable of Object.keys(bad.expect)) {
        assert.ok(named.has(variable), `no problem names ${variable}; stderr:\n${gateway.stderr}`);
      }
      assert.ok(!named.has('metrics_port'), 'metrics_port was valid');
    });

    it('says for each problem what is wrong and what would be valid', () => {
      for (const [variable, mentions] of Object.entries(bad.expect)) {
        const lines = problemLines(gateway.stderr)
          .filter((p) => p.variable === variable)
          .map((p) => p.line)
          .join('\n');
        for (const mention of mentions) assert.match(lines, mention, `${variable}: ${lines || '(no line)'}`);
      }
      if (bad.expect.algorithms) {
        const algorithms = problemLines(gateway.stderr).filter((p) => p.variable === 'algorithms');
        assert.ok(algorithms.every((p) => !p.line.includes('"RS256"')), 'RS256 is valid and must not be reported');
      }
      if (bad.expect.secret_mount_path) {
        assert.ok(gateway.stderr.includes(emptySecrets), 'the folder looked in should be named');
      }
    });

    it('prints no stack trace', () => {
      assert.doesNotMatch(gateway.stderr, /^\s+at /m, gateway.stderr);
    });
  });
}

describe('boot with a good environment', () => {
  let idp: TestIdentityProvider;
  let openfaas: OpenFaasStandIn;
  let secrets: string;
  let gateway: GatewayProcess;
  let port: number;
  let metricsPort: number;

  before(async () => {
    idp = await TestIdentityProvider.start({ audience: AUDIENCE });
    openfaas = await OpenFaasStandIn.start({ user: ADMIN_USER, password: ADMIN_PASSWORD });
    secrets = mkdtempSync(join(tmpdir(), 'gateway-boot-'));
    writeFileSync(join(secrets, 'basic-auth-user'), `${ADMIN_USER}\n`);
    writeFileSync(join(secrets, 'basic-auth-password'), `  ${ADMIN_PASSWORD}\n`);
    port = await closedPort();
    metricsPort = await closedPort();
    gateway = GatewayProcess.spawn(
      {
        port: String(port),
        metrics_port: String(metricsPort),
        issuer: idp.issuer,
        audience: AUDIENCE,
        gateway_url: openfaas.url,
        secret_mount_path: secrets,
        shutdown_timeout: '5s',
      },
    );
  });
  after(async () => {
    gateway?.kill();
    await Promise.all([idp?.close(), openfaas?.close()]);
    if (secrets) rmSync(secrets, { recursive: true, force: true });
  });

  it('starts and answers GET /healthz 200', async () => {
    const res = await waitUntil(
      async () => {
        if (gateway.exit) assert.fail(`the gateway exited with ${JSON.stringify(gateway.exit)}\nstderr:\n${gateway.stderr}`);
        try {
          const r = await request(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 2000 });
          return r.status === 200 ? r : undefined;
        } catch {
          return undefined;
        }
      },
      15_000,
      { intervalMs: 100, message: `/healthz never answered 200\nstdout:\n${gateway.stdout}\nstderr:\n${gateway.stderr}` },
    );
    assert.equal(res.status, 200);
  });

  it('serves the metrics port', async () => {
    assert.equal((await request(`http://127.0.0.1:${metricsPort}/livez`)).status, 200);
  });

  it('forwards a token-carrying call with the admin credentials from the secret files (trimmed)', async () => {
    openfaas.clearRequests();
    const res = await request(`http://127.0.0.1:${port}/system/functions`, { headers: { Authorization: `Bearer ${await idp.clientCredentialsToken()}` } });
    assert.equal(res.status, 200, res.text);
    const recs = openfaas.requests.filter((r) => r.url === '/system/functions');
    assert.equal(recs.length, 1);
    assert.equal(recs[0]?.headers.authorization, ADMIN_BASIC);
  });

  it('never prints the admin password', () => {
    assert.ok(!(gateway.stdout + gateway.stderr).includes(ADMIN_PASSWORD));
  });

  it('SIGTERM: exits with code 0 and frees its ports', async () => {
    assert.equal(gateway.exit, undefined, 'the gateway should still be running');
    gateway.terminate();
    const exit = await gateway.exitWithin(10_000);
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `stderr:\n${gateway.stderr}`);
    assert.equal(await canConnect(port), false);
    assert.equal(await canConnect(metricsPort), false);
  });
});
