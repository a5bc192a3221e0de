import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { closedPort } from '../support/http-client';
import { TestIdentityProvider } from '../support/identity-provider';
import { allOutputs, AUDIENCE, childEnv, claimsOf, filesUnder, IdpFront, runFedgw, TempDirs, writeConfig } from './fleet-fixture';

/**
 * `fedgw token` against a real OpenID Provider behind a recording front: discovery or tokenUrl,
 * the parameters that reach the token endpoint, the disk cache (reuse, refresh, --no-cache,
 * identity changes, file modes) and that no secret is ever written anywhere.
 */

const SECRET = 'token-spec-secret-3e9b51';

describe('fedgw token', () => {
  const dirs = new TempDirs();
  let idp: TestIdentityProvider;
  let shortIdp: TestIdentityProvider;
  let front: IdpFront;
  let shortFront: IdpFront;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let deadPort: number;

  before(async () => {
    const clients = [{ clientId: 'vendor', clientSecret: SECRET }];
    idp = await TestIdentityProvider.start({ audience: AUDIENCE, clients });
    // Tokens living 30 s: under the 60 s margin, so never reused from the cache.
    shortIdp = await TestIdentityProvider.start({ audience: AUDIENCE, clients, accessTokenTtlSeconds: 30 });
    front = await IdpFront.start(idp.issuer);
    shortFront = await IdpFront.start(shortIdp.issuer);
    deadPort = await closedPort();
    home = dirs.make('fedgw-token-home-');
    const gateway = 'https://gateway.invalid';
    const config = writeConfig(home, {
      defaults: { clientId: 'vendor', clientSecretEnv: 'VENDOR_SECRET', gateway },
      clusters: {
        discovered: { issuer: front.url },
        direct: { tokenUrl: `${front.url}/custom/token`, issuer: `http://127.0.0.1:${deadPort}` },
        params: { issuer: front.url, audience: 'customer-a-gateway', scope: 'openfaas:read openfaas:write', resource: 'https://customer-a.example.com/' },
        short: { issuer: shortFront.url },
        refused: { issuer: front.url, clientSecretCommand: 'echo not-the-secret' },
      },
    });
    env = childEnv(home, { FEDGW_CONFIG: config, VENDOR_SECRET: SECRET });
  });

  after(async () => {
    await Promise.all([front?.close(), shortFront?.close(), idp?.close(), shortIdp?.close()]);
    dirs.removeAll();
  });

  const cacheDir = () => join(home, 'xdg-cache', 'fedgw');

  it('discovers the token endpoint from the issuer and prints a token of that client', async () => {
    const discoveries = front.discoveryRequests().length;
    const run = await runFedgw(['token', 'discovered', '--no-cache'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(front.discoveryRequests().length, discoveries + 1);
    const posts = front.tokenRequests();
    assert.equal(posts.at(-1)?.path, '/token');
    const claims = claimsOf(run.stdout.trim());
    assert.equal(claims.client_id, 'vendor');
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, AUDIENCE);
  });

  it('tokenUrl wins over issuer: no discovery, the configured endpoint', async () => {
    const discoveries = front.discoveryRequests().length;
    const run = await runFedgw(['token', 'direct', '--no-cache'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(front.discoveryRequests().length, discoveries);
    assert.equal(front.tokenRequests().at(-1)?.path, '/custom/token');
  });

  it('sends audience, scope and resource to the token endpoint', async () => {
    const run = await runFedgw(['token', 'params', '--no-cache'], env);
    assert.equal(run.code, 0, run.stderr);
    const form = front.tokenRequests().at(-1)?.form as URLSearchParams;
    assert.equal(form.get('audience'), 'customer-a-gateway');
    assert.equal(form.get('scope'), 'openfaas:read openfaas:write');
    assert.equal(form.get('resource'), 'https://customer-a.example.com/');
    // The IdP acted on them: the token is for that resource, with that scope.
    const claims = claimsOf(run.stdout.trim());
    assert.equal(claims.aud, 'https://customer-a.example.com/');
    assert.equal(claims.scope, 'openfaas:read openfaas:write');
  });

  it('reuses a cached token: the second call makes no token request', async () => {
    const before = front.tokenRequests().length;
    const first = await runFedgw(['token', 'discovered'], env);
    const second = await runFedgw(['token', 'discovered'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(front.tokenRequests().length, before + 1);
    assert.equal(second.stdout, first.stdout);

    const third = await runFedgw(['token', 'discovered', '--no-cache'], env);
    assert.equal(front.tokenRequests().length, before + 2, '--no-cache asks the IdP');
    assert.notEqual(third.stdout, first.stdout);
  });

  it('keeps the cache private: folder 0700, files 0600, even when the folder was looser', async () => {
    mkdirSync(cacheDir(), { recursive: true });
    chmodSync(cacheDir(), 0o755);
    const run = await runFedgw(['token', 'params'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(statSync(cacheDir()).mode & 0o777, 0o700);
    const files = filesUnder(cacheDir());
    assert.ok(files.length >= 2);
    for (const file of files) assert.equal(file.mode, 0o600, file.path);
  });

  it('a token with less than 60 s left is printed but never reused', async () => {
    const before = shortFront.tokenRequests().length;
    const first = await runFedgw(['token', 'short'], env);
    const second = await runFedgw(['token', 'short'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(shortFront.tokenRequests().length, before + 2);
    const exp = claimsOf(second.stdout.trim()).exp as number;
    assert.ok(exp - Date.now() / 1000 <= 30);
  });

  it('a changed identity (another audience, same cluster name) does not reuse the token', async () => {
    const config = writeConfig(home, { clusters: { discovered: { gateway: 'https://gateway.invalid', issuer: front.url, clientId: 'vendor', clientSecretEnv: 'VENDOR_SECRET', audience: 'another' } } }, 'changed.yaml');
    const before = front.tokenRequests().length;
    const run = await runFedgw(['token', 'discovered', '--config', config], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(front.tokenRequests().length, before + 1);
  });

  it('falls back to ~/.cache/fedgw without XDG_CACHE_HOME', async () => {
    const run = await runFedgw(['token', 'direct'], { ...env, XDG_CACHE_HOME: '' });
    assert.equal(run.code, 0, run.stderr);
    const files = filesUnder(join(home, '.cache', 'fedgw'));
    assert.equal(files.length, 1);
    assert.equal(statSync(join(home, '.cache', 'fedgw')).mode & 0o777, 0o700);
  });

  it('a refused client: exit 1 naming the IdP error, nothing cached', async () => {
    const cached = filesUnder(cacheDir()).length;
    const run = await runFedgw(['token', 'refused'], env);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^fedgw: refused: token endpoint .*\/token refused: 401 invalid_client/m);
    assert.equal(filesUnder(cacheDir()).length, cached);
  });

  it('the --json form carries the token and its expiry', async () => {
    const run = await runFedgw(['token', 'discovered', '--json'], env);
    assert.equal(run.code, 0);
    const body = JSON.parse(run.stdout) as Record<string, any>;
    assert.equal(body.cluster, 'discovered');
    assert.equal(body.ok, true);
    const claims = claimsOf(body.accessToken);
    assert.equal(claims.client_id, 'vendor');
    assert.ok(Math.abs(Date.parse(body.expiresAt) / 1000 - (claims.exp as number)) < 5, `${body.expiresAt} vs exp ${claims.exp}`);
    assert.ok(body.expiresInSeconds > 60);
  });

  it('never writes the secret: not in any output nor cache file', () => {
    const texts = [...allOutputs, ...filesUnder(join(home, 'xdg-cache')).map((f) => f.text), ...filesUnder(join(home, '.cache')).map((f) => f.text)];
    assert.ok(texts.length > 10);
    assert.ok(texts.every((t) => !t.includes(SECRET)));
  });
});
