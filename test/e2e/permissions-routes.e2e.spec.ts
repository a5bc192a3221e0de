import 'reflect-metadata';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import {
  AccessHarness,
  assertBadRequest,
  assertForbidden,
  bearer,
  CONTRACT_ACTIONS,
  grant,
  gql,
  IamObject,
  scopeIs,
  Statement,
  startWithAccess,
  upstreamCalls,
} from '../support/access-files';
import { HttpResponse, rawHttp, request } from '../support/http-client';
import { RecordedRequest } from '../support/openfaas-stand-in';
import { waitUntil } from '../support/wait';
import { ADMIN_BASIC, Harness } from './harness';

/**
 * Per-token permissions on the REST passthrough, end to end: a real OpenID Provider issuing
 * client-credentials tokens whose `scope` picks a Role of the access file, the real gateway, and
 * the recording OpenFaaS stand-in. Every route of the contract's table is allowed with a grant of
 * exactly its action and resource, and refused by a twin token holding every other action on that
 * resource and the same action elsewhere; a refusal reaches nothing upstream. Then the namespace
 * tricks of security.md, the filtered namespace list, and the same gateway without an access file.
 */

const NAMESPACES = ['dev', 'prod', 'staging'];
const SEED = [
  { name: 'echo', image: 'ghcr.io/openfaas/alpine:latest' },
  { name: 'echo', image: 'ghcr.io/openfaas/alpine:latest', namespace: 'dev' },
  { name: 'api', image: 'ghcr.io/x/api:1', namespace: 'prod' },
  { name: 'job', image: 'ghcr.io/x/job:1', namespace: 'staging' },
];

interface Row {
  method: string;
  path: string;
  body?: unknown;
  action: string;
  resource: string;
  /** Resources the twin holds the same action on, none of which may cover `resource`. */
  elsewhere: string[];
}

/** The contract's table, row by row, with the action and resource each request needs. */
const ROWS: Row[] = [
  { method: 'GET', path: '/system/functions?namespace=dev', action: 'Function:List', resource: 'dev:*', elsewhere: ['prod:*', 'dev:echo'] },
  { method: 'GET', path: '/system/functions', action: 'Function:List', resource: 'openfaas-fn:*', elsewhere: ['dev:*', 'openfaas-fn:echo'] },
  { method: 'GET', path: '/system/function/echo?namespace=dev', action: 'Function:Get', resource: 'dev:echo', elsewhere: ['prod:echo', 'dev:echo2', 'openfaas-fn:*'] },
  { method: 'GET', path: '/system/function/echo', action: 'Function:Get', resource: 'openfaas-fn:echo', elsewhere: ['dev:*'] },
  {
    method: 'POST',
    path: '/system/functions',
    body: { service: 'newfn', image: 'ghcr.io/x/newfn:1', namespace: 'dev' },
    action: 'Function:Create',
    resource: 'dev:newfn',
    elsewhere: ['prod:*', 'dev:other'],
  },
  {
    method: 'POST',
    path: '/system/functions',
    body: { service: 'plain', image: 'ghcr.io/x/plain:1' },
    action: 'Function:Create',
    resource: 'openfaas-fn:plain',
    elsewhere: ['dev:*'],
  },
  {
    method: 'PUT',
    path: '/system/functions',
    body: { service: 'echo', image: 'ghcr.io/x/echo:2', namespace: 'dev' },
    action: 'Function:Update',
    resource: 'dev:echo',
    elsewhere: ['prod:*', 'dev:newfn'],
  },
  {
    method: 'DELETE',
    path: '/system/functions?namespace=dev',
    body: { functionName: 'doomed' },
    action: 'Function:Delete',
    resource: 'dev:doomed',
    elsewhere: ['prod:*', 'dev:echo'],
  },
  {
    method: 'POST',
    path: '/system/scale-function/echo?namespace=dev',
    body: { serviceName: 'echo', replicas: 2 },
    action: 'Function:Scale',
    resource: 'dev:echo',
    elsewhere: ['prod:*', 'openfaas-fn:echo'],
  },
  { method: 'GET', path: '/system/logs?name=echo&namespace=dev', action: 'Function:Logs', resource: 'dev:echo', elsewhere: ['prod:*', 'dev:api'] },
  { method: 'GET', path: '/system/logs?name=echo', action: 'Function:Logs', resource: 'openfaas-fn:echo', elsewhere: ['dev:*'] },
  { method: 'GET', path: '/system/secrets?namespace=dev', action: 'Secret:List', resource: 'dev:*', elsewhere: ['prod:*', 'dev:s1'] },
  {
    method: 'POST',
    path: '/system/secrets',
    body: { name: 's1', value: 'v1', namespace: 'dev' },
    action: 'Secret:Create',
    resource: 'dev:s1',
    elsewhere: ['prod:*', 'dev:s2'],
  },
  {
    method: 'PUT',
    path: '/system/secrets',
    body: { name: 's1', value: 'v2', namespace: 'dev' },
    action: 'Secret:Update',
    resource: 'dev:s1',
    elsewhere: ['prod:*', 'dev:s2'],
  },
  {
    method: 'DELETE',
    path: '/system/secrets',
    body: { name: 's1', namespace: 'dev' },
    action: 'Secret:Delete',
    resource: 'dev:s1',
    elsewhere: ['prod:*', 'dev:s2'],
  },
  // Held anywhere, Namespace:List passes (the answer is then filtered): the twin lacks it altogether.
  { method: 'GET', path: '/system/namespaces', action: 'Namespace:List', resource: '*', elsewhere: [] },
  { method: 'GET', path: '/system/namespace/dev', action: 'Namespace:Get', resource: 'dev:*', elsewhere: ['prod:*', 'dev:echo'] },
  {
    method: 'PUT',
    path: '/system/namespace/dev',
    body: { name: 'dev', labels: { team: 'a' } },
    action: 'Namespace:Update',
    resource: 'dev:*',
    elsewhere: ['prod:*'],
  },
  { method: 'DELETE', path: '/system/namespace/dev', action: 'Namespace:Delete', resource: 'dev:*', elsewhere: ['prod:*', 'dev:x'] },
  { method: 'POST', path: '/system/namespace/', body: { name: 'newns' }, action: 'Namespace:Create', resource: 'newns:*', elsewhere: ['dev:*'] },
  { method: 'GET', path: '/system/info', action: 'System:Info', resource: '*', elsewhere: ['dev:*', 'openfaas-fn:*'] },
  { method: 'POST', path: '/function/echo.dev', body: 'hello', action: 'Function:Invoke', resource: 'dev:echo', elsewhere: ['prod:*', 'openfaas-fn:echo'] },
  { method: 'GET', path: '/function/echo', action: 'Function:Invoke', resource: 'openfaas-fn:echo', elsewhere: ['dev:echo'] },
  {
    method: 'POST',
    path: '/async-function/echo.dev/sub/path?x=1',
    body: 'later',
    action: 'Function:Invoke',
    resource: 'dev:echo',
    elsewhere: ['openfaas-fn:*'],
  },
  // The namespace is after the last dot of the first segment.
  { method: 'GET', path: '/function/v1.2.staging', action: 'Function:Invoke', resource: 'staging:v1.2', elsewhere: ['staging:v1', 'openfaas-fn:*'] },
  // Unlisted /system routes: only the action * on the resource * covers them.
  { method: 'GET', path: '/system/alerts', action: '*', resource: '*', elsewhere: [] },
  { method: 'POST', path: '/system/alert', body: { receiver: 'x' }, action: '*', resource: '*', elsewhere: [] },
  { method: 'PATCH', path: '/system/functions', body: { service: 'echo' }, action: '*', resource: '*', elsewhere: [] },
  { method: 'GET', path: '/system/function/echo/extra', action: '*', resource: '*', elsewhere: [] },
];

/** Exactly the grant a row needs. */
function allowFor(row: Row): Statement[] {
  return [{ action: [row.action], resource: [row.resource] }];
}

/** Every other action on the row's resource, and the row's action elsewhere: never the row itself. */
function twinFor(row: Row): Statement[] {
  if (row.action === '*') return [{ action: ['Function:*', 'Secret:*', 'Namespace:*', 'System:Info'], resource: ['*'] }];
  const statements: Statement[] = [{ action: CONTRACT_ACTIONS.filter((a) => a !== row.action), resource: [row.resource] }];
  if (row.elsewhere.length) statements.push({ action: [row.action], resource: row.elsewhere });
  return statements;
}

function bodyBytes(body: unknown): Buffer | undefined {
  if (body === undefined) return undefined;
  return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
}

function send(h: Harness, token: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  const type: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  return request(`${h.url}${path}`, { method, headers: { ...bearer(token), ...type, ...headers }, body });
}

/** The one request that reached OpenFaaS: same method, same target, the same body bytes. */
async function assertForwarded(h: Harness, method: string, path: string, body: Buffer | undefined): Promise<RecordedRequest> {
  const calls = upstreamCalls(h);
  assert.equal(calls.length, 1, `expected one request upstream, got ${calls.map((c) => `${c.method} ${c.url}`).join(', ') || 'none'}`);
  const call = calls[0] as RecordedRequest;
  assert.equal(call.method, method);
  assert.equal(call.url, path);
  await waitUntil(() => call.complete, 5000, { message: 'the body never completed upstream' });
  assert.deepEqual(call.body, body ?? Buffer.alloc(0), 'the body reached OpenFaaS changed');
  if (path.startsWith('/system/')) assert.equal(call.headers.authorization, ADMIN_BASIC);
  else assert.equal(call.headers.authorization, undefined);
  return call;
}

function assertNothingUpstream(h: Harness): void {
  const calls = upstreamCalls(h);
  assert.deepEqual(
    calls.map((c) => `${c.method} ${c.url}`),
    [],
    'a refused request reached OpenFaaS',
  );
}

const nsStatements = (ns: string): Statement[] => [
  { action: ['Function:*', 'Secret:*'], resource: [`${ns}:*`] },
  { action: ['Namespace:Get'], resource: [`${ns}:*`] },
];

describe('permissions: every route of the table, allowed with its grant and refused without', () => {
  let g: AccessHarness;
  const tokens = new Map<string, string>();

  before(async () => {
    const objects: IamObject[] = [];
    ROWS.forEach((row, i) => {
      objects.push(...grant(`row-${i}`, scopeIs(`row-${i}`), allowFor(row)));
      objects.push(...grant(`twin-${i}`, scopeIs(`twin-${i}`), twinFor(row)));
    });
    objects.push(...grant('dev-all', scopeIs('dev-all'), nsStatements('dev')));
    objects.push(...grant('prod-all', scopeIs('prod-all'), nsStatements('prod')));
    objects.push(...grant('ns-mixed', scopeIs('ns-mixed'), [
      { action: ['Namespace:List'], resource: ['dev:*'] },
      { action: ['Function:Get'], resource: ['staging:job'] },
    ]));
    objects.push(...grant('ns-all', scopeIs('ns-all'), [{ action: ['Namespace:List'], resource: ['*'] }]));
    g = await startWithAccess(objects, { env: { allow_invoke: 'true' }, openfaas: { functions: SEED, namespaces: NAMESPACES } });
    const scopes = [...ROWS.flatMap((_, i) => [`row-${i}`, `twin-${i}`]), 'dev-all', 'prod-all', 'ns-mixed', 'ns-all', 'unrelated'];
    const issued = await Promise.all(scopes.map((scope) => g.h.idp.clientCredentialsToken({ scope })));
    scopes.forEach((scope, i) => tokens.set(scope, issued[i] as string));
  });
  after(() => g?.close());
  beforeEach(() => g.h.openfaas.clearRequests());

  const token = (scope: string) => tokens.get(scope) as string;

  ROWS.forEach((row, i) => {
    const label = `${row.method} ${row.path}`;
    it(`${label}: ${row.action} on ${row.resource} lets it through to OpenFaaS`, async () => {
      const body = bodyBytes(row.body);
      const res = await send(g.h, token(`row-${i}`), row.method, row.path, body);
      assert.ok(![400, 401, 403, 413].includes(res.status), `${res.status} ${res.text}`);
      await assertForwarded(g.h, row.method, row.path, body);
    });
    it(`${label}: refused 403 naming ${row.action} and ${row.resource} without that grant, nothing upstream`, async () => {
      const res = await send(g.h, token(`twin-${i}`), row.method, row.path, bodyBytes(row.body));
      assertForbidden(res, row.action, row.resource);
      assertNothingUpstream(g.h);
    });
  });

  it('a valid token that matches no Role is refused on every route, and nothing reaches OpenFaaS', async () => {
    for (const row of ROWS) {
      const res = await send(g.h, token('unrelated'), row.method, row.path, bodyBytes(row.body));
      assertForbidden(res, row.action, row.resource);
    }
    assertNothingUpstream(g.h);
  });

  it('routes are matched after percent-decoding, as OpenFaaS matches them', async () => {
    // /function/echo%2Eprod is echo in prod: a dev-only invoker may not call it.
    const invoker = token(`row-${ROWS.findIndex((r) => r.path === '/function/echo.dev')}`);
    assertForbidden(await send(g.h, invoker, 'POST', '/function/echo%2Eprod', 'x'), 'Function:Invoke', 'prod:echo');
    assertForbidden(await send(g.h, token('dev-all'), 'GET', '/system/function/%61pi?namespace=prod'), 'Function:Get', 'prod:api');
    assertForbidden(await send(g.h, token('dev-all'), 'GET', '/system/%66unctions?namespace=prod'), 'Function:List', 'prod:*');
    // Dot segments (also encoded) could route elsewhere behind us: refused before any permission.
    // (Sent raw: a WHATWG URL would resolve the encoded dots before sending.)
    const dots = await rawHttp(
      '127.0.0.1',
      g.h.gateway.port,
      `GET /function/echo.dev/%2e%2e/%2e%2e/system/info HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${invoker}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(dots, /^HTTP\/1\.1 400 /, dots);
    assertNothingUpstream(g.h);
    const res = await send(g.h, invoker, 'POST', '/function/echo%2Edev', 'x');
    assert.notEqual(res.status, 403, res.text);
    await assertForwarded(g.h, 'POST', '/function/echo%2Edev', Buffer.from('x'));
  });

  describe('namespace tricks', () => {
    const dev = () => token('dev-all');
    const prod = () => token('prod-all');
    /** A token holding Function:* and Secret:* in both dev and prod: only a 400 can stop it. */
    let both: string;
    before(async () => {
      both = await g.h.idp.clientCredentialsToken({ scope: 'dev-all prod-all' });
    });

    it('?namespace=a&namespace=b is refused 400, even for a token holding both', async () => {
      assertBadRequest(await send(g.h, both, 'GET', '/system/functions?namespace=dev&namespace=prod'));
      assertBadRequest(await send(g.h, both, 'GET', '/system/function/echo?namespace=prod&namespace=dev'));
      assertBadRequest(await send(g.h, both, 'DELETE', '/system/functions?namespace=dev&namespace=prod', JSON.stringify({ functionName: 'echo' })));
      assertNothingUpstream(g.h);
    });

    it('the same namespace twice in the query is one namespace', async () => {
      const path = '/system/functions?namespace=dev&namespace=dev';
      assert.equal((await send(g.h, dev(), 'GET', path)).status, 200);
      await assertForwarded(g.h, 'GET', path, undefined);
    });

    it('a query namespace other than the body one is refused 400 (POST and PUT read the body, DELETE the query)', async () => {
      const fn = (ns: string) => JSON.stringify({ service: 'x', image: 'ghcr.io/x/x:1', namespace: ns });
      assertBadRequest(await send(g.h, both, 'POST', '/system/functions?namespace=prod', fn('dev')));
      assertBadRequest(await send(g.h, both, 'PUT', '/system/functions?namespace=dev', fn('prod')));
      assertBadRequest(await send(g.h, both, 'DELETE', '/system/functions?namespace=dev', JSON.stringify({ functionName: 'x', namespace: 'prod' })));
      // DELETE reads the query; a body naming a namespace without a query one names another than the default.
      assertBadRequest(await send(g.h, both, 'DELETE', '/system/functions', JSON.stringify({ functionName: 'x', namespace: 'dev' })));
      assertBadRequest(await send(g.h, both, 'POST', '/system/secrets?namespace=prod', JSON.stringify({ name: 's', value: 'v', namespace: 'dev' })));
      assertBadRequest(await send(g.h, both, 'POST', '/system/namespace/dev', JSON.stringify({ name: 'prod' })));
      assertNothingUpstream(g.h);
    });

    it('the query and the body agreeing on the namespace is allowed', async () => {
      const body = JSON.stringify({ service: 'agree', image: 'ghcr.io/x/agree:1', namespace: 'dev' });
      const res = await send(g.h, dev(), 'POST', '/system/functions?namespace=dev', body);
      assert.equal(res.status, 202, res.text);
      await assertForwarded(g.h, 'POST', '/system/functions?namespace=dev', Buffer.from(body));
    });

    it('case-variant JSON keys that Go would match ("Namespace", "NAMESPACE", "ſervice", "name\\u017fpace") and differ are refused 400', async () => {
      const bodies = [
        '{"service":"x","image":"i","namespace":"dev","Namespace":"prod"}',
        '{"service":"x","image":"i","NAMESPACE":"prod","namespace":"dev"}',
        '{"service":"x","ſervice":"y","image":"i","namespace":"dev"}',
        '{"service":"x","image":"i","namespace":"dev","name\\u017fpace":"prod"}',
        '{"SERVICE":"x","Service":"y","image":"i","namespace":"dev"}',
      ];
      for (const body of bodies) {
        const res = await send(g.h, both, 'POST', '/system/functions', body);
        assertBadRequest(res);
      }
      const secret = '{"name":"s","NAME":"t","value":"v","namespace":"dev"}';
      assertBadRequest(await send(g.h, both, 'PUT', '/system/secrets', secret));
      const del = '{"functionName":"echo","FUNCTIONNAME":"api"}';
      assertBadRequest(await send(g.h, both, 'DELETE', '/system/functions?namespace=dev', del));
      assertNothingUpstream(g.h);
    });

    it('a case-variant key alone is the namespace OpenFaaS reads: checked as such', async () => {
      const body = '{"service":"variant","image":"ghcr.io/x/v:1","NameSpace":"prod"}';
      assertForbidden(await send(g.h, dev(), 'POST', '/system/functions', body), 'Function:Create', 'prod:variant');
      assertNothingUpstream(g.h);
      const res = await send(g.h, prod(), 'POST', '/system/functions', body);
      assert.equal(res.status, 202, res.text);
      await assertForwarded(g.h, 'POST', '/system/functions', Buffer.from(body));
      const folded = '{"ſervice":"folded","image":"ghcr.io/x/v:1","namespace":"prod"}';
      assertForbidden(await send(g.h, dev(), 'POST', '/system/functions', folded), 'Function:Create', 'prod:folded');
    });

    it('keys of nested objects are not the namespace', async () => {
      const body = '{"service":"nested","image":"ghcr.io/x/n:1","namespace":"dev","annotations":{"namespace":"prod","Namespace":"prod"},"labels":{"service":"other"}}';
      const res = await send(g.h, dev(), 'POST', '/system/functions', body);
      assert.equal(res.status, 202, res.text);
      await assertForwarded(g.h, 'POST', '/system/functions', Buffer.from(body));
    });

    it('a duplicate key with different values is refused 400; with the same value it is one key', async () => {
      assertBadRequest(await send(g.h, both, 'POST', '/system/functions', '{"service":"x","image":"i","namespace":"dev","namespace":"prod"}'));
      assertBadRequest(await send(g.h, both, 'POST', '/system/functions', '{"service":"x","service":"y","image":"i","namespace":"dev"}'));
      assertBadRequest(await send(g.h, both, 'DELETE', '/system/secrets', '{"name":"a","name":"b","namespace":"dev"}'));
      assertNothingUpstream(g.h);
      const same = '{"service":"dup","image":"ghcr.io/x/d:1","namespace":"dev","namespace":"dev"}';
      const res = await send(g.h, dev(), 'POST', '/system/functions', same);
      assert.equal(res.status, 202, res.text);
      await assertForwarded(g.h, 'POST', '/system/functions', Buffer.from(same));
    });

    it('name%73pace=prod in the query counts as namespace=prod', async () => {
      assertForbidden(await send(g.h, dev(), 'GET', '/system/functions?name%73pace=prod'), 'Function:List', 'prod:*');
      assertBadRequest(await send(g.h, both, 'GET', '/system/functions?namespace=dev&name%73pace=prod'));
      assertNothingUpstream(g.h);
      const res = await send(g.h, prod(), 'GET', '/system/functions?name%73pace=prod');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual((res.json() as Array<{ name: string }>).map((f) => f.name), ['api']);
      await assertForwarded(g.h, 'GET', '/system/functions?name%73pace=prod', undefined);
    });

    it('a body that is not a JSON object (or names the target with another type) is refused 400', async () => {
      const bodies = ['[]', '"dev"', 'null', '42', 'not json', '', '{"service":"x"', '{"service":5,"image":"i"}', '{"service":"x","namespace":["prod"]}', '{"image":"i","namespace":"dev"}'];
      for (const body of bodies) {
        const res = await send(g.h, both, 'POST', '/system/functions', body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.status} ${res.text}`);
      }
      assertBadRequest(await send(g.h, both, 'DELETE', '/system/secrets', '[{"name":"s"}]'));
      assertNothingUpstream(g.h);
    });

    it('a body over 1 MiB is refused 413 and nothing reaches OpenFaaS; exactly 1 MiB is read and forwarded', async () => {
      const sized = (bytes: number) => {
        const shell = '{"service":"big","namespace":"dev","image":"ghcr.io/x/big:1","annotations":{"pad":""}}';
        return shell.replace('"pad":""', `"pad":"${'p'.repeat(bytes - shell.length)}"`);
      };
      const over = sized(1024 * 1024 + 1);
      assert.equal(Buffer.byteLength(over), 1024 * 1024 + 1);
      const res = await send(g.h, dev(), 'POST', '/system/functions', over);
      assert.equal(res.status, 413, res.text);
      assertNothingUpstream(g.h);
      const exact = sized(1024 * 1024);
      const ok = await send(g.h, dev(), 'POST', '/system/functions', exact);
      assert.equal(ok.status, 202, ok.text);
      await assertForwarded(g.h, 'POST', '/system/functions', Buffer.from(exact));
    });

    it('the body reaching OpenFaaS is byte for byte the one sent (whitespace, escapes, raw UTF-8), checked on its decoded namespace', async () => {
      const body = Buffer.from(
        '\t{ "service" :"odd" ,\r\n  "image":"ghcr.io\\/x\\/odd:1",\n "namespace" : "d\\u0065v", "labels":{"k":"é ✓ \\ud83d\\ude00 😀","n":"\\"}"} }  \n',
        'utf8',
      );
      const res = await send(g.h, dev(), 'POST', '/system/functions', body);
      assert.equal(res.status, 202, res.text);
      await assertForwarded(g.h, 'POST', '/system/functions', body);
      // The same bytes naming prod through an escape are prod.
      const sneaky = Buffer.from('{"service":"odd","image":"i","namespace":"pro\\u0064"}');
      assertForbidden(await send(g.h, dev(), 'POST', '/system/functions', sneaky), 'Function:Create', 'prod:odd');
    });

    it('a chunked body on POST and PUT is read, checked and forwarded whole', async () => {
      const parts = ['{"service":"chunky",', '"image":"ghcr.io/x/chunky:1",', '"namespace":"dev"}'];
      for (const method of ['POST', 'PUT']) {
        g.h.openfaas.clearRequests();
        const res = await request(`${g.h.url}/system/functions`, {
          method,
          headers: { ...bearer(dev()), 'content-type': 'application/json' },
          body: Readable.from(parts.map((p) => Buffer.from(p))),
        });
        assert.equal(res.status, 202, `${method}: ${res.text}`);
        const call = await assertForwarded(g.h, method, '/system/functions', Buffer.from(parts.join('')));
        assert.ok(call.headers['content-length'] !== undefined || call.headers['transfer-encoding'] === 'chunked');
      }
      g.h.openfaas.clearRequests();
      const refused = await request(`${g.h.url}/system/secrets`, {
        method: 'POST',
        headers: { ...bearer(dev()), 'content-type': 'application/json' },
        body: Readable.from([Buffer.from('{"name":"s","value":"v",'), Buffer.from('"namespace":"prod"}')]),
      });
      assertForbidden(refused, 'Secret:Create', 'prod:s');
      assertNothingUpstream(g.h);
    });

    it('Expect: 100-continue on a body route gets 100 Continue before the body is sent, then the answer', async () => {
      const allowed = '{"service":"patient","image":"ghcr.io/x/p:1","namespace":"dev"}';
      const first = await expectContinue(g.h, dev(), allowed);
      assert.ok(first.continued, `no 100 Continue before the body: ${first.raw}`);
      assert.equal(first.status, 202, first.raw);
      await assertForwarded(g.h, 'POST', '/system/functions', Buffer.from(allowed));
      g.h.openfaas.clearRequests();
      const refused = await expectContinue(g.h, dev(), '{"service":"patient","image":"i","namespace":"prod"}');
      assert.ok(refused.continued, refused.raw);
      assert.equal(refused.status, 403, refused.raw);
      assert.match(refused.raw, /"error":"forbidden"/);
      assertNothingUpstream(g.h);
    });
  });

  describe('GET /system/namespaces is filtered to the namespaces the token holds any action in', () => {
    // The stand-in's namespaces, as OpenFaaS answers: openfaas-fn first, then the others.
    const upstream = ['openfaas-fn', ...NAMESPACES];

    it('a token with Namespace:List on dev:* and Function:Get on staging:job sees dev and staging', async () => {
      const res = await send(g.h, token('ns-mixed'), 'GET', '/system/namespaces');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json(), upstream.filter((ns) => ns === 'dev' || ns === 'staging'));
      await assertForwarded(g.h, 'GET', '/system/namespaces', undefined);
    });

    it('a token holding Namespace:List on * sees every namespace', async () => {
      const res = await send(g.h, token('ns-all'), 'GET', '/system/namespaces');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json(), upstream);
    });

    it('a token without Namespace:List anywhere is refused, whatever else it holds', async () => {
      assertForbidden(await send(g.h, token('dev-all'), 'GET', '/system/namespaces'), 'Namespace:List', '*');
      assertNothingUpstream(g.h);
    });

    it('GraphQL namespaces is filtered the same way', async () => {
      const mixed = await gql(g.h, token('ns-mixed'), '{ namespaces }');
      assert.deepEqual(mixed.data?.namespaces, ['dev', 'staging'], mixed.text);
      const all = await gql(g.h, token('ns-all'), '{ namespaces }');
      assert.deepEqual(all.data?.namespaces, upstream, all.text);
      const none = await gql(g.h, token('dev-all'), '{ namespaces }');
      assert.equal(none.errors?.[0]?.extensions?.code, 'FORBIDDEN', none.text);
    });
  });
});

/** Sends the head with Expect: 100-continue, the body only once 100 Continue came (or after 2 s). */
async function expectContinue(h: Harness, token: string, body: string): Promise<{ continued: boolean; status: number; raw: string }> {
  const socket = connect({ host: '127.0.0.1', port: h.gateway.port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let raw = '';
  socket.on('data', (chunk: Buffer) => (raw += chunk.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(
    `POST /system/functions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
  );
  const deadline = Date.now() + 2000;
  while (!raw.includes('\r\n\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const continued = /^HTTP\/1\.1 100 Continue\r\n/.test(raw);
  socket.write(body);
  const timer = setTimeout(() => socket.destroy(), 5000);
  await closed;
  clearTimeout(timer);
  const finalHead = raw.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
  return { continued, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(finalHead)?.[1] ?? 0), raw };
}

describe('without access_file nothing changes', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ env: { allow_invoke: 'true' }, openfaas: { namespaces: NAMESPACES } });
  });
  after(() => h?.close());
  beforeEach(() => h.openfaas.clearRequests());

  it('a token any access file would match to nothing may still use every admitted route', async () => {
    const token = await h.idp.clientCredentialsToken({ scope: 'nothing-special' });
    const calls: Array<[string, string, string | undefined]> = [
      ['GET', '/system/functions?namespace=prod', undefined],
      ['GET', '/system/info', undefined],
      ['POST', '/system/functions', JSON.stringify({ service: 'free', image: 'ghcr.io/x/free:1', namespace: 'prod' })],
      ['DELETE', '/system/functions?namespace=dev&namespace=prod', JSON.stringify({ functionName: 'none' })],
      ['GET', '/system/alerts', undefined],
      ['POST', '/function/echo', 'hi'],
    ];
    for (const [method, path, body] of calls) {
      const res = await send(h, token, method, path, body);
      assert.ok(![400, 401, 403, 413].includes(res.status), `${method} ${path}: ${res.status} ${res.text}`);
    }
    assert.deepEqual(
      upstreamCalls(h).map((c) => `${c.method} ${c.url}`),
      calls.map(([method, path]) => `${method} ${path}`),
    );
    const namespaces = await send(h, token, 'GET', '/system/namespaces');
    assert.deepEqual(namespaces.json(), ['openfaas-fn', ...NAMESPACES]);
    const status = await gql(h, token, '{ gatewayStatus { allowInvoke } functions(namespace: "prod") { name } }');
    assert.equal(status.errors, undefined, status.text);
    assert.equal(status.data?.gatewayStatus.allowInvoke, true);
  });
});
