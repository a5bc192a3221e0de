import 'reflect-metadata';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { forgeCallerToken } from '../support/auth-fixtures';
import {
  AccessHarness,
  assertForbidden,
  bearer,
  grant,
  gql,
  IamObject,
  jwtIssuer,
  metric,
  startWithAccess,
  upstreamCalls,
} from '../support/access-files';
import { closedPort, HttpResponse, request } from '../support/http-client';
import { TestIdentityProvider } from '../support/identity-provider';
import { waitUntil } from '../support/wait';
import { Harness } from './harness';

/**
 * Several issuers: two real OpenID Providers (two oidc-provider instances, each with its own key)
 * as JwtIssuers of the access file, then the environment's issuer beside one JwtIssuer. Each
 * issuer's tokens pass; a token naming one issuer but signed by the other's key never does;
 * /healthz, gatewayStatus and the metrics account for every issuer; a JwtIssuer removed on
 * reload stops its tokens.
 */

const AUD_A = 'https://gateway-a.example.com';
const AUD_B = 'https://gateway-b.example.com';
const AUD_C = 'https://gateway-c.example.com';

function get(h: Harness, path: string, token: string): Promise<HttpResponse> {
  return request(`${h.url}${path}`, { headers: bearer(token) });
}

function assertUnauthorized(res: HttpResponse): void {
  assert.equal(res.status, 401, res.text);
  assert.match(String(res.headers['www-authenticate']), /^Bearer realm="openfaas"/);
  assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
  assert.equal((res.json() as { error: string }).error, 'invalid_token');
}

/** A function list call reaching OpenFaaS, with the namespace asked for. */
function assertListed(h: Harness, res: HttpResponse, namespace: string): void {
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(
    upstreamCalls(h).map((c) => c.url),
    [`/system/functions?namespace=${namespace}`],
  );
}

const STATUS_QUERY = '{ gatewayStatus { issuer { issuer } issuers { name issuer audiences keys { kid } } } }';

describe('two JwtIssuers, two real OpenID Providers, no issuer variable', () => {
  let idpA: TestIdentityProvider;
  let idpB: TestIdentityProvider | undefined;
  let issuerB: string;
  let g: AccessHarness;
  let objects: IamObject[];

  before(async () => {
    // Issuer A signs with ES256 and its JwtIssuer accepts only that; B keeps the default algorithms.
    idpA = await TestIdentityProvider.start({
      audience: AUD_A,
      signingAlg: 'ES256',
      clients: [
        { clientId: 'reader', clientSecret: 'reader-secret' },
        { clientId: 'ops', clientSecret: 'ops-secret' },
      ],
    });
    // Issuer B's provider is not up yet: its address is known, nothing answers there.
    const portB = await closedPort();
    issuerB = `http://127.0.0.1:${portB}`;
    objects = [
      jwtIssuer('idp-a', { iss: idpA.issuer, aud: [AUD_A], algorithms: ['ES256'] }),
      jwtIssuer('idp-b', { iss: issuerB, aud: [AUD_B] }),
      ...grant('from-a', { StringEqual: { 'jwt:iss': [idpA.issuer] } }, [{ action: ['Function:List'], resource: ['team-a:*'] }]),
      ...grant('from-b', { StringEqual: { 'jwt:iss': [issuerB] } }, [{ action: ['Function:List'], resource: ['team-b:*'] }]),
      ...grant('ops', { StringEqual: { 'jwt:iss': [idpA.issuer], 'jwt:client_id': ['ops'] } }, [{ action: ['System:Info'], resource: ['*'] }]),
    ];
    g = await startWithAccess(objects, {
      env: { issuer: '', audience: '', jwks_cooldown: '0s' },
      noWaitForKeys: true,
      openfaas: { namespaces: ['team-a', 'team-b'] },
    });
  });
  after(async () => {
    await g?.close();
    await Promise.all([idpA?.close(), idpB?.close()]);
  });
  beforeEach(() => g.h.openfaas.clearRequests());

  it('/healthz is 503 while keys of one issuer are missing, naming that issuer only; 200 once both are held', async () => {
    // Issuer A's keys arrive; B's cannot.
    const notReady = await waitUntil(
      async () => {
        const res = await request(`${g.h.url}/healthz`);
        return res.status === 503 && !res.text.includes(idpA.issuer) ? res : undefined;
      },
      5000,
      { message: 'issuer A never counted as ready' },
    );
    assert.ok(notReady.text.includes(issuerB), `the 503 does not name ${issuerB}: ${notReady.text}`);
    idpB = await TestIdentityProvider.start({ port: Number(new URL(issuerB).port), audience: AUD_B, clients: [{ clientId: 'reader', clientSecret: 'b-secret' }] });
    assert.equal(idpB.issuer, issuerB);
    await waitUntil(async () => (await request(`${g.h.url}/healthz`)).status === 200, 8000, {
      message: 'the gateway never became ready once issuer B answered',
    });
  });

  it("each issuer's own tokens pass, each picking the Role conditioned on its iss", async () => {
    assert.ok(idpB, 'issuer B is up');
    const a = await idpA.clientCredentialsToken({ clientId: 'reader' });
    const b = await idpB.clientCredentialsToken();
    assertListed(g.h, await get(g.h, '/system/functions?namespace=team-a', a), 'team-a');
    g.h.openfaas.clearRequests();
    assertListed(g.h, await get(g.h, '/system/functions?namespace=team-b', b), 'team-b');
    g.h.openfaas.clearRequests();
    assertForbidden(await get(g.h, '/system/functions?namespace=team-b', a), 'Function:List', 'team-b:*');
    assertForbidden(await get(g.h, '/system/functions?namespace=team-a', b), 'Function:List', 'team-a:*');
    assert.deepEqual(upstreamCalls(g.h), []);
  });

  it("a token naming one issuer but signed with the other issuer's key is refused 401, and nothing reaches OpenFaaS", async () => {
    assert.ok(idpB);
    const keyA = idpA.signingKey().privateKey;
    const keyB = idpB.signingKey().privateKey;
    // The forging is sound: the same claims signed by the right key pass.
    assert.equal((await get(g.h, '/system/functions?namespace=team-a', forgeCallerToken(idpA, { aud: AUD_A }))).status, 200);
    assert.equal((await get(g.h, '/system/functions?namespace=team-b', forgeCallerToken(idpB, { aud: AUD_B }))).status, 200);
    g.h.openfaas.clearRequests();
    const confused = [
      // iss A, B's kid, B's key: B's key must not verify A's tokens.
      forgeCallerToken(idpB, { iss: idpA.issuer, aud: AUD_A }),
      // iss A, A's kid, signed by B's key.
      forgeCallerToken(idpA, { aud: AUD_A }, keyB),
      // iss B, A's kid, A's key.
      forgeCallerToken(idpA, { iss: issuerB, aud: AUD_B }),
      // iss B, B's kid, signed by A's key.
      forgeCallerToken(idpB, { aud: AUD_B }, keyA),
    ];
    for (const token of confused) assertUnauthorized(await get(g.h, '/system/functions?namespace=team-a', token));
    // Each issuer's audience is its own: B's genuine token for A's audience is refused.
    const wrongAudience = await idpB.clientCredentialsToken({ resource: AUD_A });
    assertUnauthorized(await get(g.h, '/system/functions?namespace=team-b', wrongAudience));
    // A provider the access file does not name.
    assertUnauthorized(await get(g.h, '/system/functions?namespace=team-a', await g.h.idp.clientCredentialsToken()));
    assert.deepEqual(upstreamCalls(g.h), []);
  });

  it('gatewayStatus shows the first issuer as issuer and both in issuers, each with its own key', async () => {
    assert.ok(idpB);
    const ops = await idpA.clientCredentialsToken({ clientId: 'ops' });
    const res = await gql(g.h, ops, STATUS_QUERY);
    assert.equal(res.errors, undefined, res.text);
    assert.equal(res.data.gatewayStatus.issuer.issuer, idpA.issuer);
    assert.deepEqual(res.data.gatewayStatus.issuers, [
      { name: 'idp-a', issuer: idpA.issuer, audiences: [AUD_A], keys: [{ kid: idpA.signingKey().kid }] },
      { name: 'idp-b', issuer: issuerB, audiences: [AUD_B], keys: [{ kid: idpB.signingKey().kid }] },
    ]);
    const reader = await gql(g.h, await idpA.clientCredentialsToken({ clientId: 'reader' }), STATUS_QUERY);
    assert.equal(reader.errors?.[0]?.extensions?.code, 'FORBIDDEN', reader.text);
  });

  it('/metrics counts the signing keys of each issuer under its name', async () => {
    assert.equal(await metric(g.h, 'gateway_signing_keys', { issuer: 'idp-a' }), 1);
    assert.equal(await metric(g.h, 'gateway_signing_keys', { issuer: 'idp-b' }), 1);
  });

  it(
    "a reload that leaves both JwtIssuers as they were keeps each one's algorithms (A's own list is not B's default)",
    async () => {
      assert.ok(idpB);
      const ops = await idpA.clientCredentialsToken({ clientId: 'ops' });
      const algorithmsQuery = '{ gatewayStatus { issuers { name algorithms } } }';
      const before = await gql(g.h, ops, algorithmsQuery);
      assert.equal(before.errors, undefined, before.text);
      const algorithmsOf = (res: typeof before, name: string) => res.data.gatewayStatus.issuers.find((i: { name: string }) => i.name === name)?.algorithms;
      assert.deepEqual(algorithmsOf(before, 'idp-a'), ['ES256']);
      // B names none: the algorithms variable's default applies, RS256 among them.
      assert.ok(algorithmsOf(before, 'idp-b').includes('RS256'), before.text);
      // A change to the Roles only.
      g.file.write([...objects, ...grant('extra', { StringEqual: { 'jwt:client_id': ['nobody-at-all'] } }, [{ action: ['Function:Get'], resource: ['team-b:x'] }])]);
      await g.reload();
      await g.reload();
      g.h.openfaas.clearRequests();
      const res = await get(g.h, '/system/functions?namespace=team-b', await idpB.clientCredentialsToken());
      assert.equal(res.status, 200, `B's RS256 token after a reload that changed no issuer: ${res.status} ${res.text}`);
      const after = await gql(g.h, ops, algorithmsQuery);
      assert.deepEqual(algorithmsOf(after, 'idp-b'), algorithmsOf(before, 'idp-b'), `idp-b's algorithms changed on reload: ${after.text}`);
    },
  );
});

describe('the issuer variable beside one JwtIssuer', () => {
  let partner: TestIdentityProvider;
  let g: AccessHarness;
  let objects: IamObject[];

  before(async () => {
    partner = await TestIdentityProvider.start({ audience: AUD_C, clients: [{ clientId: 'partner-ci', clientSecret: 'partner-secret' }] });
    objects = [
      jwtIssuer('partner', { iss: partner.issuer, aud: [AUD_C] }),
      // No condition: every token of every accepted issuer.
      ...grant('everyone', undefined, [
        { action: ['Function:List'], resource: ['shared:*'] },
        { action: ['System:Info'], resource: ['*'] },
      ]),
      ...grant('partner-only', { StringEqual: { 'jwt:iss': [partner.issuer] } }, [{ action: ['Function:List'], resource: ['partner:*'] }]),
    ];
    g = await startWithAccess(objects, { openfaas: { namespaces: ['shared', 'partner'] } });
  });
  after(async () => {
    await g?.close();
    await partner?.close();
  });
  beforeEach(() => g.h.openfaas.clearRequests());

  it('tokens of both pass; the JwtIssuer Role holds only for its own tokens', async () => {
    const env = await g.h.token();
    const theirs = await partner.clientCredentialsToken();
    assertListed(g.h, await get(g.h, '/system/functions?namespace=shared', env), 'shared');
    g.h.openfaas.clearRequests();
    assertListed(g.h, await get(g.h, '/system/functions?namespace=partner', theirs), 'partner');
    g.h.openfaas.clearRequests();
    assertForbidden(await get(g.h, '/system/functions?namespace=partner', env), 'Function:List', 'partner:*');
  });

  it("neither issuer's key verifies the other's tokens", async () => {
    const envKey = g.h.idp.signingKey().privateKey;
    assertUnauthorized(await get(g.h, '/system/functions?namespace=shared', forgeCallerToken(partner, { iss: g.h.idp.issuer })));
    assertUnauthorized(await get(g.h, '/system/functions?namespace=shared', forgeCallerToken(g.h.idp, {}, partner.signingKey().privateKey)));
    assertUnauthorized(await get(g.h, '/system/functions?namespace=partner', forgeCallerToken(g.h.idp, { iss: partner.issuer, aud: AUD_C })));
    assertUnauthorized(await get(g.h, '/system/functions?namespace=partner', forgeCallerToken(partner, { aud: AUD_C }, envKey)));
    assert.deepEqual(upstreamCalls(g.h), []);
  });

  it('gatewayStatus.issuer is the issuer variable; issuers lists it first, then the JwtIssuer', async () => {
    const res = await gql(g.h, await g.h.token(), STATUS_QUERY);
    assert.equal(res.errors, undefined, res.text);
    const status = res.data.gatewayStatus;
    assert.equal(status.issuer.issuer, g.h.idp.issuer);
    assert.deepEqual(
      status.issuers.map((i: { issuer: string }) => i.issuer),
      [g.h.idp.issuer, partner.issuer],
    );
    assert.deepEqual(status.issuers[1], { name: 'partner', issuer: partner.issuer, audiences: [AUD_C], keys: [{ kid: partner.signingKey().kid }] });
    assert.deepEqual(status.issuers[0].keys, [{ kid: g.h.idp.signingKey().kid }]);
    assert.equal(await metric(g.h, 'gateway_signing_keys', { issuer: 'partner' }), 1);
  });

  it('a JwtIssuer removed on reload stops its tokens (even one already verified); put back, they pass again', async () => {
    const theirs = await partner.clientCredentialsToken();
    const env = await g.h.token();
    assertListed(g.h, await get(g.h, '/system/functions?namespace=partner', theirs), 'partner');
    g.h.openfaas.clearRequests();
    g.file.write(objects.filter((o) => o.kind !== 'JwtIssuer'));
    await g.reload();
    assertUnauthorized(await get(g.h, '/system/functions?namespace=partner', theirs));
    assertUnauthorized(await get(g.h, '/system/functions?namespace=shared', await partner.clientCredentialsToken()));
    assert.deepEqual(upstreamCalls(g.h), []);
    assertListed(g.h, await get(g.h, '/system/functions?namespace=shared', env), 'shared');
    const res = await gql(g.h, env, STATUS_QUERY);
    assert.deepEqual(
      res.data?.gatewayStatus.issuers.map((i: { issuer: string }) => i.issuer),
      [g.h.idp.issuer],
      res.text,
    );
    assert.equal(await metric(g.h, 'gateway_signing_keys', { issuer: 'partner' }), 0);

    g.file.write(objects);
    await g.reload();
    const back = await waitUntil(
      async () => {
        const r = await get(g.h, '/system/functions?namespace=partner', theirs);
        return r.status === 200 ? r : undefined;
      },
      5000,
      { intervalMs: 50, message: "the JwtIssuer put back never accepted its tokens again" },
    );
    assert.equal(back.status, 200);
  });
});

describe('a JwtIssuer named "env" without the issuer variable', () => {
  let idp: TestIdentityProvider;
  let g: AccessHarness;
  let objects: IamObject[];

  before(async () => {
    idp = await TestIdentityProvider.start({ audience: AUD_A });
    objects = [jwtIssuer('env', { iss: idp.issuer, aud: [AUD_A] }), ...grant('team-a', undefined, [{ action: ['Function:List'], resource: ['team-a:*'] }])];
    g = await startWithAccess(objects, { env: { issuer: '', audience: '' }, openfaas: { namespaces: ['team-a', 'team-b'] } });
  });
  after(async () => {
    await g?.close();
    await idp?.close();
  });

  it(
    'is an issuer like any other: a later version of the file applies',
    async () => {
      const token = await idp.clientCredentialsToken();
      assertListed(g.h, await get(g.h, '/system/functions?namespace=team-a', token), 'team-a');
      g.h.openfaas.clearRequests();
      const refusedBefore = await metric(g.h, 'gateway_access_file_reloads_total', { outcome: 'refused' });
      g.file.write([...objects, ...grant('team-b', undefined, [{ action: ['Function:List'], resource: ['team-b:*'] }])]);
      await g.reload();
      await g.reload();
      assert.equal(await metric(g.h, 'gateway_access_file_reloads_total', { outcome: 'refused' }), refusedBefore, 'the new version was refused');
      assertListed(g.h, await get(g.h, '/system/functions?namespace=team-b', token), 'team-b');
    },
  );
});
