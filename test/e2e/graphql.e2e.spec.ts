import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildClientSchema, IntrospectionQuery, getIntrospectionQuery, lexicographicSortSchema, printSchema } from 'graphql';
import { ADMIN_BASIC, ADMIN_PASSWORD, ADMIN_USER, AUDIENCE, Harness } from './harness';
import { closedPort, HttpResponse, rawHttp, request } from '../support/http-client';
import { nowSeconds, signCompact } from '../support/tokens';
import { sleep, waitUntil } from '../support/wait';
import { SCHEMA_FILE } from '../tools/served-schema';

/**
 * The GraphQL admin API at POST /graphql, end to end: the real gateway between a real OpenID
 * Provider and the recording OpenFaaS stand-in. Expected values come from the stand-in's state,
 * the IdP and package.json, never from the gateway's own answers.
 */

const PACKAGE_VERSION = (JSON.parse(readFileSync(resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;

const GATEWAY_STATUS = `{
  gatewayStatus {
    version startedAt uptimeSeconds allowInvoke
    upstream { url healthy latencyMs provider orchestration version error }
    issuer { issuer audiences audienceClaims algorithms jwksUri keys { kid alg kty curve } lastRefreshedAt lastError lastErrorAt fetches failures }
  }
}`;
const FUNCTIONS = `query ($ns: String) {
  functions(namespace: $ns) { name namespace image replicas availableReplicas invocationCount labels annotations createdAt }
}`;
const NAMESPACES = '{ namespaces }';
const DIAGNOSTICS = 'query ($t: String!) { tokenDiagnostics(token: $t) { valid reason checks { name passed detail } } }';

/** Every query of the contract, with variables, for the allowed/refused sweeps. */
const ALL_QUERIES: Array<{ name: string; query: string; variables?: Record<string, unknown> }> = [
  { name: '__typename', query: '{ __typename }' },
  { name: 'gatewayStatus', query: GATEWAY_STATUS },
  { name: 'tokenDiagnostics', query: DIAGNOSTICS, variables: { t: 'a.b.c' } },
  { name: 'functions', query: FUNCTIONS },
  { name: 'namespaces', query: NAMESPACES },
];

interface GqlError {
  message: string;
  path?: Array<string | number>;
  extensions?: Record<string, unknown> & { code?: string };
}
interface GqlBody<T = any> {
  data?: T | null;
  errors?: GqlError[];
}

interface GqlOptions {
  variables?: Record<string, unknown>;
  /** A bearer token; null sends no Authorization header. */
  token?: string | null;
  headers?: Record<string, string>;
}

async function gql(h: Harness, query: string, opts: GqlOptions = {}): Promise<HttpResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? (await h.token())}`;
  return request(`${h.url}/graphql`, { method: 'POST', headers: { ...headers, ...opts.headers }, body: JSON.stringify({ query, variables: opts.variables }) });
}

/** POSTs a query with a token and returns the parsed GraphQL body (any HTTP status). */
async function run<T = any>(h: Harness, query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: GqlBody<T>; text: string }> {
  const res = await gql(h, query, { variables });
  assert.match(String(res.headers['content-type']), /application\/(graphql-response\+)?json/, `not a JSON answer: ${res.status} ${res.text}`);
  return { status: res.status, body: res.json() as GqlBody<T>, text: res.text };
}

/** The one error of a failed operation, with its extensions.code and no stack anywhere. */
function singleError(body: GqlBody, text: string): GqlError {
  assert.ok(body.errors?.length, `expected a GraphQL error, got ${text}`);
  assert.equal(body.errors.length, 1, text);
  assertNoStack(body, text);
  return body.errors[0] as GqlError;
}

function assertNoStack(body: GqlBody, text: string): void {
  for (const error of body.errors ?? []) {
    assert.equal(error.extensions?.stacktrace, undefined, `stacktrace in extensions: ${text}`);
    assert.equal(error.extensions?.exception, undefined, `exception in extensions: ${text}`);
  }
  assert.doesNotMatch(text, /\bat [\w.<>]+ \(|\.(js|ts):\d+:\d+/, `something like a stack frame in: ${text}`);
}

/** The gateway's 401: JSON body, RFC 6750 challenge; `invalid` when a token was sent. */
function assertUnauthenticated(res: HttpResponse, invalid: boolean): { error: string; error_description: string } {
  assert.equal(res.status, 401, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const challenge = String(res.headers['www-authenticate']);
  assert.match(challenge, /^Bearer realm="openfaas"/);
  if (invalid) assert.match(challenge, /error="invalid_token"/);
  const body = res.json() as { error: string; error_description: string };
  assert.equal(typeof body.error, 'string');
  assert.ok(body.error_description.length > 10, res.text);
  assert.equal(body.error, invalid ? 'invalid_token' : 'missing_token');
  assert.equal((res.json() as GqlBody).data, undefined, 'a 401 carries no GraphQL data');
  return body;
}

/** Requests the gateway sent to the stand-in besides the /healthz probe. */
function upstreamCalls(h: Harness): Array<{ method: string; url: string; authorization: string | undefined }> {
  return h.openfaas.requests.filter((r) => r.url !== '/healthz').map((r) => ({ method: r.method, url: r.url, authorization: r.headers.authorization }));
}

/** The stand-in's own answer to an admin GET: its state, as OpenFaaS would report it. */
async function standInJson<T = any>(h: Harness, path: string): Promise<T> {
  const res = await request(`${h.openfaas.url}${path}`, { headers: { authorization: ADMIN_BASIC } });
  assert.equal(res.status, 200, res.text);
  return res.json() as T;
}

function forge(h: Harness, claims: Record<string, unknown>): string {
  const key = h.idp.signingKey();
  const now = nowSeconds();
  return signCompact({
    header: { alg: key.alg, typ: 'at+jwt', kid: key.kid },
    payload: { iss: h.idp.issuer, aud: AUDIENCE, sub: 'forged', iat: now, exp: now + 300, ...claims },
    key: key.privateKey,
  });
}

describe('GraphQL /graphql: the door (token, method, CSRF, body size, query limits)', () => {
  let h: Harness;
  let token: string;
  before(async () => {
    h = await Harness.start();
    token = await h.token();
  });
  after(() => h?.close());

  it('answers every query with a valid token', async () => {
    for (const q of ALL_QUERIES) {
      const res = await gql(h, q.query, { token, variables: q.variables });
      assert.equal(res.status, 200, `${q.name}: ${res.text}`);
      const body = res.json() as GqlBody;
      assert.equal(body.errors, undefined, `${q.name}: ${res.text}`);
      assert.ok(body.data && typeof body.data === 'object', `${q.name}: ${res.text}`);
    }
  });

  it('refuses every query without a token (401, JSON error, WWW-Authenticate Bearer), { __typename } included, before anything reaches OpenFaaS', async () => {
    h.openfaas.clearRequests();
    for (const q of ALL_QUERIES) {
      const res = await gql(h, q.query, { token: null, variables: q.variables });
      const body = assertUnauthenticated(res, false);
      assert.match(body.error_description, /bearer token is required/i, q.name);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="openfaas"', `${q.name}: no error= without a token (RFC 6750 §3.1)`);
    }
    assert.deepEqual(h.openfaas.requests.map((r) => r.url), [], 'a refused operation must not reach OpenFaaS');
  });

  it('refuses a bad token (401 invalid_token naming the failed check) and Basic admin credentials (401)', async () => {
    h.openfaas.clearRequests();
    const expired = forge(h, { exp: nowSeconds() - 600, iat: nowSeconds() - 900 });
    const cases: Array<{ authorization: string; invalid: boolean; description: RegExp }> = [
      { authorization: 'Bearer not-a-jwt', invalid: true, description: /segments/ },
      { authorization: `Bearer ${expired}`, invalid: true, description: /expired/ },
      { authorization: `Bearer ${token.slice(0, -6)}AAAAAA`, invalid: true, description: /signature/ },
      { authorization: ADMIN_BASIC, invalid: false, description: /Basic credentials are not accepted/ },
    ];
    for (const c of cases) {
      const res = await gql(h, '{ __typename }', { token: null, headers: { authorization: c.authorization } });
      const body = assertUnauthenticated(res, c.invalid);
      assert.match(body.error_description, c.description, res.text);
      assert.ok(!res.text.includes(ADMIN_PASSWORD));
    }
    assert.deepEqual(h.openfaas.requests.map((r) => r.url), []);
  });

  it('answers { __typename } with a token', async () => {
    const { status, body } = await run(h, '{ __typename }');
    assert.equal(status, 200);
    assert.deepEqual(body, { data: { __typename: 'Query' } });
  });

  it('refuses GET /graphql?query=... with 405 and Allow: POST, with or without a token, and serves no landing page', async () => {
    const url = `${h.url}/graphql?query=${encodeURIComponent('{ __typename }')}`;
    const variants: Array<Record<string, string>> = [{ authorization: `Bearer ${token}` }, {}, { accept: 'text/html' }, { authorization: `Bearer ${token}`, accept: 'text/html' }];
    for (const headers of variants) {
      const res = await request(url, { headers });
      assert.equal(res.status, 405, res.text);
      assert.equal(res.headers.allow, 'POST');
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.doesNotMatch(res.text, /<html|__typename"?\s*:/i);
      assert.equal((res.json() as { error: string }).error, 'method_not_allowed');
    }
  });

  it('a refusal sent before any body is read keeps a bodyless request\'s connection open, and closes one whose body is unread', async () => {
    const port = Number(new URL(h.url).port);
    const bodyless = await rawHttp('127.0.0.1', port, 'GET /graphql HTTP/1.1\r\nHost: gw\r\n\r\n', { timeoutMs: 500 });
    assert.match(bodyless, /^HTTP\/1\.1 405 /);
    assert.match(bodyless, /\r\nconnection: keep-alive\r\n/i);
    // A POST without a token whose body has not arrived: answered at once, connection closed.
    const unread = await rawHttp('127.0.0.1', port, 'POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{', { timeoutMs: 2000 });
    assert.match(unread, /^HTTP\/1\.1 401 /);
    assert.match(unread, /\r\nconnection: close\r\n/i);
  });

  it('CSRF prevention: a text/plain (or form) POST with a valid token is refused with 400 and runs nothing', async () => {
    h.openfaas.clearRequests();
    const body = JSON.stringify({ query: NAMESPACES });
    for (const type of ['text/plain', 'text/plain;charset=utf-8', 'application/x-www-form-urlencoded']) {
      const res = await request(`${h.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });
      assert.equal(res.status, 400, `${type}: ${res.text}`);
      assert.match(res.text, /CSRF|preflight/i, `${type}: ${res.text}`);
      assert.doesNotMatch(res.text, /"namespaces"\s*:/);
    }
    const untyped = await request(`${h.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });
    assert.equal(untyped.status, 400, `no content type: ${untyped.text}`);
    assert.deepEqual(upstreamCalls(h), [], 'a CSRF-refused request must not reach OpenFaaS');
    // The same request as application/json goes through: it is the content type that is refused.
    const ok = await request(`${h.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    assert.equal(ok.status, 200, ok.text);
  });

  it('answers a body that is not JSON with 400 and a JSON error, no stack', async () => {
    const res = await request(`${h.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"query": "{ __typename }"',
    });
    assert.equal(res.status, 400, res.text);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal((res.json() as { error: string }).error, 'bad_request');
    assert.doesNotMatch(res.text, /SyntaxError|\.js:\d+/);
  });

  it('limits the /graphql body to 64 KiB: 65536 bytes pass, 65537 bytes get 413 (and without a token, 401 first)', async () => {
    const sized = (bytes: number) => {
      const skeleton = JSON.stringify({ query: '{ __typename }#' });
      const body = JSON.stringify({ query: `{ __typename }#${'p'.repeat(bytes - Buffer.byteLength(skeleton))}` });
      assert.equal(Buffer.byteLength(body), bytes);
      return body;
    };
    const send = (body: string, auth = true) =>
      request(`${h.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
        body,
      });

    const atLimit = await send(sized(64 * 1024));
    assert.equal(atLimit.status, 200, atLimit.text.slice(0, 300));
    assert.deepEqual(atLimit.json(), { data: { __typename: 'Query' } });

    const over = await send(sized(64 * 1024 + 1));
    assert.equal(over.status, 413, over.text.slice(0, 300));
    assert.match(String(over.headers['content-type']), /^application\/json/);
    assert.equal((over.json() as { error: string }).error, 'payload_too_large');

    const big = await send(sized(1024 * 1024));
    assert.equal(big.status, 413);

    const anonymous = await send(sized(200 * 1024), false);
    assert.equal(anonymous.status, 401, 'the token is checked before the body is read');
  });

  it('leaves the proxied routes unlimited: a 300 KiB JSON POST /system/functions reaches OpenFaaS byte-identical', async () => {
    h.openfaas.clearRequests();
    const name = `big-${process.pid}`;
    const body = Buffer.from(
      JSON.stringify({ service: name, image: 'ghcr.io/example/big:1', envVars: { BLOB: 'y'.repeat(300 * 1024) }, labels: { size: 'big' } }),
    );
    assert.ok(body.length > 64 * 1024 * 4);
    const res = await request(`${h.url}/system/functions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    assert.equal(res.status, 202, res.text);
    const deploys = h.openfaas.requests.filter((r) => r.method === 'POST' && r.url === '/system/functions');
    assert.equal(deploys.length, 1);
    assert.ok(deploys[0]?.complete);
    assert.equal(Buffer.compare(deploys[0]!.body, body), 0, 'the proxied body must arrive unchanged');
    assert.equal(h.openfaas.functionStatus(name)?.envVars.BLOB?.length, 300 * 1024);
  });

  it('refuses a query nested 9 levels deep with QUERY_TOO_COMPLEX before any resolver runs; 8 levels is not refused for depth', async () => {
    // The schema itself is at most 4 levels deep, so deeper queries are also invalid otherwise;
    // what matters is that the depth rule fires (9) or does not (8), and nothing executes.
    const nest = (levels: number) => {
      let inner = 'x';
      for (let i = levels - 1; i >= 4; i--) inner = `l${i} { ${inner} }`;
      return `{ gatewayStatus { issuer { keys { ${inner} } } } }`;
    };
    h.openfaas.clearRequests();
    const deep = await run(h, nest(9));
    assert.equal(deep.status, 400, deep.text);
    assert.equal(deep.body.data, undefined);
    assertNoStack(deep.body, deep.text);
    const tooDeep = (deep.body.errors ?? []).find((e) => /levels deep/.test(e.message));
    assert.ok(tooDeep, `no depth refusal in ${deep.text}`);
    assert.match(tooDeep.message, /9 levels deep; at most 8/);

    const eight = await run(h, nest(8));
    assert.equal(eight.status, 400, 'still invalid against the schema');
    assert.ok(!(eight.body.errors ?? []).some((e) => /levels deep/.test(e.message) || e.extensions?.code === 'QUERY_TOO_COMPLEX'), eight.text);

    assert.deepEqual(upstreamCalls(h), [], 'no resolver touching OpenFaaS ran');

    // Levels are counted through fragment spreads, which add none themselves.
    const viaFragments = await run(h, 'query { ...A } fragment A on Query { tokenDiagnostics(token: "x") { ...B } } fragment B on TokenDiagnostics { checks { name } }');
    assert.equal(viaFragments.body.errors, undefined, viaFragments.text);

    assert.equal(tooDeep.extensions?.code, 'QUERY_TOO_COMPLEX', `the depth refusal must carry extensions.code QUERY_TOO_COMPLEX: ${deep.text}`);
  });

  it('refuses more than 200 selected fields (aliases, and fragments counted per spread) with QUERY_TOO_COMPLEX; no resolver runs', async () => {
    const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');
    h.openfaas.clearRequests();
    const wide = await run(h, `{ ${aliases(201, 'namespaces')} }`);
    assert.equal(wide.status, 400, wide.text.slice(0, 300));
    const wideError = singleError(wide.body, wide.text);
    assert.match(wideError.message, /more than 200 fields/);
    assert.equal(wide.body.data, undefined);
    assert.deepEqual(upstreamCalls(h), [], 'no namespaces resolver may have called OpenFaaS');

    const twice = await run(h, `{ ...F ...F } fragment F on Query { ${aliases(101, '__typename')} }`);
    assert.equal(twice.status, 400, twice.text.slice(0, 300));
    const twiceError = singleError(twice.body, twice.text);
    assert.match(twiceError.message, /more than 200 fields/);

    const limit = await run(h, `{ ${aliases(200, '__typename')} }`);
    assert.equal(limit.status, 200, limit.text.slice(0, 300));
    assert.equal(limit.body.errors, undefined);
    assert.equal(Object.keys(limit.body.data ?? {}).length, 200);

    for (const error of [wideError, twiceError]) {
      assert.equal(error.extensions?.code, 'QUERY_TOO_COMPLEX', `the breadth refusal must carry extensions.code QUERY_TOO_COMPLEX: ${JSON.stringify(error)}`);
    }
  });

  it('refuses introspection by default (with a token), while __typename still works', async () => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Query") { name fields { name } } }', getIntrospectionQuery()]) {
      const res = await run(h, query);
      assert.equal(res.status, 400, res.text.slice(0, 300));
      assertNoStack(res.body, res.text);
      const error = (res.body.errors ?? []).find((e) => /introspection/i.test(e.message));
      assert.ok(error, `no introspection refusal in ${res.text}`);
      assert.equal(error.extensions?.code, 'GRAPHQL_VALIDATION_FAILED', res.text);
      assert.equal(res.body.data, undefined);
    }
  });
});

describe('GraphQL gatewayStatus', () => {
  let h: Harness;
  let startedBefore: number;
  before(async () => {
    startedBefore = Date.now();
    h = await Harness.start();
  });
  after(() => h?.close());

  it("reports the package.json version, the process start, a consistent uptime, and allowInvoke from the environment (false by default)", async () => {
    const asked = Date.now();
    const { body, text } = await run(h, GATEWAY_STATUS);
    assert.equal(body.errors, undefined, text);
    const status = body.data.gatewayStatus;
    assert.equal(status.version, PACKAGE_VERSION);
    const startedAt = Date.parse(status.startedAt);
    const processStart = Date.now() - process.uptime() * 1000;
    assert.ok(startedAt >= processStart - 1000 && startedAt <= startedBefore, `startedAt ${status.startedAt} is not when this process started`);
    const expectedUptime = (asked - startedAt) / 1000;
    assert.ok(Math.abs(status.uptimeSeconds - expectedUptime) < 1, `uptime ${status.uptimeSeconds}s, expected ~${expectedUptime}s`);
    assert.equal(status.allowInvoke, h.config.allowInvoke);
    assert.equal(status.allowInvoke, false);
  });

  it('reports the upstream: the stand-in URL, healthy with a /healthz latency, and provider/orchestration/version from its /system/info', async () => {
    const info = await standInJson(h, '/system/info');
    h.openfaas.clearRequests();
    const started = performance.now();
    const { body, text } = await run(h, GATEWAY_STATUS);
    const elapsed = performance.now() - started;
    assert.equal(body.errors, undefined, text);
    const upstream = body.data.gatewayStatus.upstream;
    assert.equal(upstream.url, h.openfaas.url.replace(/\/$/, ''));
    assert.equal(upstream.healthy, true);
    assert.equal(typeof upstream.latencyMs, 'number');
    assert.ok(upstream.latencyMs >= 0 && upstream.latencyMs <= elapsed, `latency ${upstream.latencyMs}ms`);
    assert.equal(upstream.provider, info.provider.provider);
    assert.equal(upstream.orchestration, info.provider.orchestration);
    assert.equal(upstream.version, info.version.release);
    assert.equal(upstream.error, null);
    assert.deepEqual(upstreamCalls(h), [{ method: 'GET', url: '/system/info', authorization: ADMIN_BASIC }], '/system/info read with the admin credentials');
    // The probe is shared for a second; the next status after that probes /healthz again.
    await sleep(1100);
    h.openfaas.clearRequests();
    const again = await run(h, '{ gatewayStatus { upstream { healthy latencyMs } } }');
    assert.equal(again.body.data.gatewayStatus.upstream.healthy, true);
    assert.equal(h.openfaas.requests.filter((r) => r.url === '/healthz').length, 1, 'one /healthz probe');
  });

  it('reports the upstream unhealthy (with why) once /healthz answers 503, and healthy again after', async () => {
    h.openfaas.setHealthy(false);
    try {
      const upstream = await waitUntil(
        async () => {
          const { body } = await run(h, GATEWAY_STATUS);
          const u = body.data?.gatewayStatus?.upstream;
          return u && u.healthy === false ? u : undefined;
        },
        4000,
        { intervalMs: 200, message: 'gatewayStatus never reported the upstream unhealthy' },
      );
      assert.match(upstream.error, /503/);
      assert.equal(upstream.url, h.openfaas.url.replace(/\/$/, ''));
    } finally {
      h.openfaas.setHealthy(true);
    }
    await waitUntil(async () => (await run(h, GATEWAY_STATUS)).body.data?.gatewayStatus?.upstream?.healthy === true, 4000, { intervalMs: 200 });
  });

  it("reports the issuer: issuer, audiences, the discovered JWKS URI, the IdP's key id/alg/type, and a recent refresh", async () => {
    const { body, text } = await run(h, GATEWAY_STATUS);
    assert.equal(body.errors, undefined, text);
    const issuer = body.data.gatewayStatus.issuer;
    const key = h.idp.signingKey();
    assert.equal(issuer.issuer, h.idp.issuer);
    assert.deepEqual(issuer.audiences, [AUDIENCE]);
    assert.equal(issuer.jwksUri, h.idp.jwksUri);
    assert.ok(
      issuer.keys.some((k: { kid: string; alg: string; kty: string }) => k.kid === key.kid && k.alg === key.alg && k.kty === key.publicJwk.kty),
      `the IdP's key ${key.kid} (${key.alg}, ${key.publicJwk.kty}) is not in ${JSON.stringify(issuer.keys)}`,
    );
    assert.deepEqual([...issuer.algorithms].sort(), [...h.config.issuers[0]!.algorithms].sort());
    const refreshed = Date.parse(issuer.lastRefreshedAt);
    assert.ok(refreshed >= startedBefore && refreshed <= Date.now(), `lastRefreshedAt ${issuer.lastRefreshedAt} is not recent`);
    assert.equal(issuer.lastError, null);
    assert.ok(issuer.fetches >= 1);
  });

  it('carries no secret: not the admin password, no Basic credentials, no key material, not the caller token', async () => {
    const token = await h.token();
    const res = await gql(h, GATEWAY_STATUS, { token });
    assert.equal(res.status, 200);
    const key = h.idp.signingKey();
    const privateJwk = key.privateKey.export({ format: 'jwk' });
    for (const secret of [ADMIN_PASSWORD, ADMIN_BASIC, ADMIN_BASIC.slice('Basic '.length), 'Basic ', token, token.split('.')[2]!, String(privateJwk.d), String(key.publicJwk.n)]) {
      assert.ok(!res.text.includes(secret), `gatewayStatus carries ${secret.slice(0, 12)}…`);
    }
    assert.doesNotMatch(res.text, /password|BEGIN (RSA |EC )?(PUBLIC|PRIVATE) KEY/i);
  });
});

describe('GraphQL functions and namespaces', () => {
  let h: Harness;
  const labelled = `labelled-${process.pid}`;
  before(async () => {
    h = await Harness.start();
    // A function with labels and annotations, deployed through the gateway's own REST path.
    const res = await request(`${h.url}/system/functions`, {
      method: 'POST',
      headers: { ...(await h.bearer()), 'content-type': 'application/json' },
      body: JSON.stringify({ service: labelled, image: 'ghcr.io/example/labelled:2', labels: { team: 'a', tier: 'gold' }, annotations: { 'example.com/owner': 'ops' } }),
    });
    assert.equal(res.status, 202, res.text);
  });
  after(() => h?.close());

  it("functions lists the stand-in's functions of the default namespace, mapped field by field (createdAt as ISO), read with the admin credentials", async () => {
    const upstream = await standInJson<any[]>(h, '/system/functions');
    assert.ok(upstream.length >= 3 && upstream.some((f) => f.name === labelled));
    h.openfaas.clearRequests();
    const { status, body, text } = await run(h, FUNCTIONS);
    assert.equal(status, 200);
    assert.equal(body.errors, undefined, text);
    const expected = upstream
      .map((f) => ({
        name: f.name,
        namespace: f.namespace,
        image: f.image,
        replicas: f.replicas,
        availableReplicas: f.availableReplicas,
        invocationCount: f.invocationCount,
        labels: f.labels,
        annotations: f.annotations,
        createdAt: new Date(f.createdAt).toISOString(),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const got = [...body.data.functions].sort((a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name));
    assert.deepEqual(got, expected);
    assert.deepEqual(
      got.find((f: { name: string }) => f.name === labelled),
      { ...expected.find((f) => f.name === labelled)!, labels: { team: 'a', tier: 'gold' }, annotations: { 'example.com/owner': 'ops' } },
    );
    assert.deepEqual(upstreamCalls(h), [{ method: 'GET', url: '/system/functions', authorization: ADMIN_BASIC }]);
  });

  it('functions(namespace) passes the namespace on to OpenFaaS', async () => {
    h.openfaas.clearRequests();
    const { body, text } = await run(h, FUNCTIONS, { ns: 'openfaas-fn' });
    assert.equal(body.errors, undefined, text);
    assert.ok(body.data.functions.every((f: { namespace: string }) => f.namespace === 'openfaas-fn'));
    assert.ok(body.data.functions.length >= 3);
    assert.deepEqual(upstreamCalls(h), [{ method: 'GET', url: '/system/functions?namespace=openfaas-fn', authorization: ADMIN_BASIC }]);
  });

  it('functions(namespace: "nope") is a GraphQL error UPSTREAM_ERROR (OpenFaaS answered 400), with no stack', async () => {
    const { status, body, text } = await run(h, FUNCTIONS, { ns: 'nope' });
    assert.equal(status, 200, text);
    const error = singleError(body, text);
    assert.equal(error.extensions?.code, 'UPSTREAM_ERROR');
    assert.match(error.message, /400/);
    assert.deepEqual(error.path, ['functions']);
    assert.equal(body.data, null);
    assert.equal(h.openfaas.lastRequest()?.url, '/system/functions?namespace=nope');
  });

  it("namespaces equals the stand-in's /system/namespaces, read with the admin credentials", async () => {
    const expected = await standInJson<string[]>(h, '/system/namespaces');
    h.openfaas.clearRequests();
    const { body, text } = await run(h, NAMESPACES);
    assert.equal(body.errors, undefined, text);
    assert.deepEqual(body.data.namespaces, expected);
    assert.deepEqual(upstreamCalls(h), [{ method: 'GET', url: '/system/namespaces', authorization: ADMIN_BASIC }]);
  });

  it('when OpenFaaS refuses the admin credentials: UPSTREAM_ERROR naming the basic-auth secret, for functions and namespaces, without the password', async () => {
    h.openfaas.setCredentials(ADMIN_USER, 'rotated-elsewhere');
    try {
      for (const query of [FUNCTIONS, NAMESPACES]) {
        const { body, text } = await run(h, query);
        const error = singleError(body, text);
        assert.equal(error.extensions?.code, 'UPSTREAM_ERROR', text);
        assert.match(error.message, /basic-auth secret/);
        assert.ok(!text.includes(ADMIN_PASSWORD) && !text.includes('rotated-elsewhere') && !text.includes('Basic '), text);
      }
      const status = await run(h, GATEWAY_STATUS);
      assert.equal(status.body.errors, undefined, 'gatewayStatus still answers');
      assert.match(status.body.data.gatewayStatus.upstream.error, /basic-auth secret/);
      assert.equal(status.body.data.gatewayStatus.upstream.provider, null);
    } finally {
      h.openfaas.setCredentials(ADMIN_USER, ADMIN_PASSWORD);
    }
  });

  it('an OpenFaaS 500 or a non-JSON answer is UPSTREAM_ERROR, never a 500 or a stack', async () => {
    h.openfaas.override('GET', '/system/namespaces', (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('panic: runtime error: invalid memory address\ngoroutine 1 [running]:\nmain.go:42');
    });
    h.openfaas.override('GET', '/system/functions', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('<html>not json</html>');
    });
    try {
      const ns = await run(h, NAMESPACES);
      assert.equal(ns.status, 200);
      const nsError = singleError(ns.body, ns.text);
      assert.equal(nsError.extensions?.code, 'UPSTREAM_ERROR');
      assert.match(nsError.message, /500/);
      assert.doesNotMatch(ns.text, /goroutine|main\.go/, 'the upstream body is not echoed');
      const fns = await run(h, FUNCTIONS);
      const fnError = singleError(fns.body, fns.text);
      assert.equal(fnError.extensions?.code, 'UPSTREAM_ERROR');
      assert.match(fnError.message, /JSON/);
    } finally {
      h.openfaas.clearOverrides();
    }
  });
});

describe('GraphQL with the upstream down', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ env: { gateway_url: `http://127.0.0.1:${await closedPort()}` } });
  });
  after(() => h?.close());

  it('functions and namespaces are GraphQL errors UPSTREAM_UNAVAILABLE, with no stack', async () => {
    for (const [name, query] of [['functions', FUNCTIONS], ['namespaces', NAMESPACES]] as const) {
      const { status, body, text } = await run(h, query);
      assert.equal(status, 200, text);
      const error = singleError(body, text);
      assert.equal(error.extensions?.code, 'UPSTREAM_UNAVAILABLE', text);
      assert.match(error.message, /could not be reached/);
      assert.deepEqual(error.path, [name]);
      assert.equal(body.data, null);
    }
  });

  it('gatewayStatus still answers: upstream unhealthy, no latency, no provider, and why', async () => {
    const { body, text } = await run(h, GATEWAY_STATUS);
    assert.equal(body.errors, undefined, text);
    const upstream = body.data.gatewayStatus.upstream;
    assert.equal(upstream.url, h.config.gatewayUrl.toString().replace(/\/$/, ''));
    assert.equal(upstream.healthy, false);
    assert.equal(upstream.latencyMs, null);
    assert.equal(upstream.provider, null);
    assert.equal(upstream.version, null);
    assert.match(upstream.error, /could not be reached/);
    assert.equal(body.data.gatewayStatus.issuer.issuer, h.idp.issuer, 'the issuer part is unaffected');
  });
});

describe('GraphQL with a slow upstream (upstream_timeout 300ms, OpenFaaS answering after 1s)', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ env: { upstream_timeout: '300ms' } });
    h.openfaas.setResponseDelay(1000);
  });
  after(() => h?.close());

  it('functions and namespaces are GraphQL errors UPSTREAM_TIMEOUT, answered at the timeout, with no stack', async () => {
    for (const query of [FUNCTIONS, NAMESPACES]) {
      const started = performance.now();
      const { status, body, text } = await run(h, query);
      const elapsed = performance.now() - started;
      assert.equal(status, 200, text);
      const error = singleError(body, text);
      assert.equal(error.extensions?.code, 'UPSTREAM_TIMEOUT', text);
      assert.match(error.message, /300ms/);
      assert.ok(elapsed >= 250 && elapsed < 950, `answered after ${Math.round(elapsed)}ms, expected about 300ms`);
    }
  });

  it('gatewayStatus reports the /system/info timeout while /healthz (not delayed) is healthy', async () => {
    const { body, text } = await run(h, GATEWAY_STATUS);
    assert.equal(body.errors, undefined, text);
    const upstream = body.data.gatewayStatus.upstream;
    assert.equal(upstream.healthy, true);
    assert.equal(upstream.provider, null);
    assert.match(upstream.error, /did not answer within 300ms/);
  });
});

describe('GraphQL with graphql_introspection=true and allow_invoke=true', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ env: { graphql_introspection: 'true', allow_invoke: 'true' } });
  });
  after(() => h?.close());

  it('allows the standard introspection query (getIntrospectionQuery, as GraphiQL/codegen send it) with a token, and the schema it reveals is the committed schema.gql', async () => {
    const { status, body, text } = await run<IntrospectionQuery>(h, getIntrospectionQuery());
    assert.equal(status, 200, text.slice(0, 300));
    assert.equal(body.errors, undefined, text.slice(0, 300));
    const served = printSchema(lexicographicSortSchema(buildClientSchema(body.data!)));
    const committed = readFileSync(SCHEMA_FILE, 'utf8').replace(/^#[^\n]*\n\n/, '');
    assert.equal(`${served}\n`, committed);
  });

  it('serves exactly the committed schema.gql (introspected with a query that stays within the depth limit)', async () => {
    // [X!]! needs three ofType levels on field types; argument types here are at most String!, two
    // levels, which keeps every selection within 8 levels.
    const query =
      getIntrospectionQuery({ typeDepth: 3 }).replace(/(fragment InputValue on __InputValue \{[^}]*?type \{\s*\.\.\.)TypeRef/, '$1InputTypeRef') +
      '\nfragment InputTypeRef on __Type { kind name ofType { kind name ofType { kind name } } }\n';
    assert.match(query, /\.\.\.InputTypeRef/);
    const { status, body, text } = await run<IntrospectionQuery>(h, query);
    assert.equal(status, 200, text.slice(0, 300));
    assert.equal(body.errors, undefined, text.slice(0, 300));
    const served = printSchema(lexicographicSortSchema(buildClientSchema(body.data!)));
    assert.equal(`${served}\n`, readFileSync(SCHEMA_FILE, 'utf8').replace(/^#[^\n]*\n\n/, ''));
  });

  it('allows a plain introspection query with a token', async () => {
    const { status, body, text } = await run(h, '{ __schema { queryType { name fields { name } } } }');
    assert.equal(status, 200, text);
    assert.equal(body.errors, undefined, text);
    assert.equal(body.data.__schema.queryType.name, 'Query');
    const names = body.data.__schema.queryType.fields.map((f: { name: string }) => f.name).sort();
    assert.deepEqual(names, ['functions', 'gatewayStatus', 'namespaces', 'tokenDiagnostics']);
  });

  it('still refuses introspection without a token (401) and by GET (405)', async () => {
    assertUnauthenticated(await gql(h, '{ __schema { queryType { name } } }', { token: null }), false);
    const get = await request(`${h.url}/graphql?query=${encodeURIComponent('{ __schema { queryType { name } } }')}`, { headers: await h.bearer() });
    assert.equal(get.status, 405);
  });

  it('gatewayStatus.allowInvoke mirrors allow_invoke=true', async () => {
    const { body, text } = await run(h, '{ gatewayStatus { allowInvoke } }');
    assert.equal(body.errors, undefined, text);
    assert.equal(body.data.gatewayStatus.allowInvoke, true);
  });

});
