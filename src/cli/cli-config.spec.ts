import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCliConfig, selectClusters } from './cli-config';
import { UsageError } from './usage-error';

function problemsOf(source: string): string[] {
  try {
    parseCliConfig(source, 'clusters.yaml');
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.problems.map((p) => p.replace(/^clusters\.yaml: /, ''));
  }
  return assert.fail('expected a UsageError');
}

describe('parseCliConfig', () => {
  it('applies defaults key by key; a cluster secret source replaces the default one', () => {
    const config = parseCliConfig(
      `defaults:
  issuer: https://keycloak.example.com/realms/vendor
  clientSecretCommand: vault read -field=secret kv/default
  audience: fleet
clusters:
  a:
    gateway: https://a.example.com/
    clientId: a
  b:
    gateway: https://b.example.com
    clientId: b
    clientSecretFile: ~/secrets/b
    audience: b-gateway
`,
      'clusters.yaml',
    );
    assert.deepEqual(config.clusters, [
      { name: 'a', gateway: 'https://a.example.com', issuer: 'https://keycloak.example.com/realms/vendor', clientId: 'a', secret: { command: 'vault read -field=secret kv/default' }, audience: 'fleet', scope: undefined, resource: undefined },
      { name: 'b', gateway: 'https://b.example.com', issuer: 'https://keycloak.example.com/realms/vendor', clientId: 'b', secret: { file: '~/secrets/b' }, audience: 'b-gateway', scope: undefined, resource: undefined },
    ]);
  });

  it('tokenUrl wins over issuer wherever either comes from', () => {
    const config = parseCliConfig(
      `defaults: { tokenUrl: "https://login.example.com/oauth2/token" }
clusters:
  a: { gateway: "https://a.example.com", issuer: "https://idp.example.com/", clientId: a, clientSecretEnv: A }
`,
      'clusters.yaml',
    );
    assert.equal(config.clusters[0]?.tokenUrl, 'https://login.example.com/oauth2/token');
    assert.equal(config.clusters[0]?.issuer, undefined);
  });

  it('names every problem at once, with cluster and key', () => {
    assert.deepEqual(
      problemsOf(`defaults:
  clientSecretEnv: "1BAD"
clusters:
  ok-one: { gateway: "https://a.example.com", issuer: "https://i.example.com", clientId: a, clientSecretEnv: A }
  "bad name": { gateway: "https://b.example.com", issuer: "https://i.example.com", clientId: b, clientSecretEnv: B }
  c: { gateway: "gopher://c", issuer: "https://i.example.com", clientId: "", clientSecretEnv: C, clientSecretCommand: x, resource: relative }
  d: [1, 2]
`),
      [
        'defaults.clientSecretEnv: must be an environment variable name',
        "clusters.bad name: a cluster name may hold only letters, digits, '.', '_' and '-'",
        'clusters.c.gateway: must be an http(s) URL',
        'clusters.c.clientId: must not be empty',
        'clusters.c.resource: must be an http(s) URL',
        'clusters.c: clientSecretEnv and clientSecretCommand are both set; keep one secret source',
        'clusters.d: must be a mapping of keys',
        'clusters.d: gateway is required',
        'clusters.d: clientId is required',
        'clusters.d: issuer or tokenUrl is required',
      ],
    );
  });

  it('refuses unknown top-level keys, a missing clusters map and broken YAML', () => {
    assert.deepEqual(problemsOf('cluster: {}\n'), ['clusters: is required', 'cluster: unknown key']);
    assert.deepEqual(problemsOf('clusters: {}\n'), ['clusters: no cluster configured']);
    assert.match(problemsOf('clusters: [\n')[0] ?? '', /flow sequence|Flow sequence|end/i);
  });
});

describe('selectClusters', () => {
  const config = parseCliConfig(
    `defaults: { issuer: "https://i.example.com", clientSecretEnv: S }
clusters:
  a: { gateway: "https://a.example.com", clientId: a }
  b: { gateway: "https://b.example.com", clientId: b }
`,
    'clusters.yaml',
  );

  it('gives all clusters by default, else the named ones in the order named, once each', () => {
    assert.deepEqual(selectClusters(config, []).map((c) => c.name), ['a', 'b']);
    assert.deepEqual(selectClusters(config, ['b', 'a', 'b']).map((c) => c.name), ['b', 'a']);
  });

  it('names each unknown cluster and the configured ones', () => {
    assert.throws(() => selectClusters(config, ['a', 'x', 'y']), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.deepEqual(err.problems, ['unknown cluster "x" (configured: a, b)', 'unknown cluster "y" (configured: a, b)']);
      return true;
    });
  });
});
