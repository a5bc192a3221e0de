import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_BASIC, ADMIN_PASSWORD, Harness } from './harness';
import { closedPort, HttpResponse, openStream, rawHttp, request } from '../support/http-client';
import { DEFAULT_NAMESPACE, OpenFaasStandIn, RecordedRequest } from '../support/openfaas-stand-in';
import { sleep, waitUntil } from '../support/wait';

/**
 * faas-cli replayed against the gateway: every request of the faas-cli table in openfaas.md, with
 * faas-cli's methods, paths, query strings and headers, checked both at the caller and at the
 * OpenFaaS stand-in (what actually left the gateway).
 */

const USER_AGENT = 'faas-cli/0.17.1';
/** The admin credentials' base64, which must never show up outside the cluster either. */
const ADMIN_BASIC_B64 = ADMIN_BASIC.slice('Basic '.length);
const REALM_CHALLENGE = 'Bearer realm="openfaas"';

/** Headers faas-cli sends (openfaas.md, "What faas-cli sends"); `token: ''` is faas-cli without --token. */
function cliHeaders(token: string | undefined, withBody: boolean): Record<string, string> {
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, 'Accept-Encoding': 'gzip' };
  if (withBody) headers['Content-Type'] = 'application/json';
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  return headers;
}

interface CliCall {
  method: string;
  path: string;
  body?: string;
}

function send(h: Harness, call: CliCall, token: string | undefined, extra: Record<string, string> = {}): Promise<HttpResponse> {
  return request(`${h.url}${call.path}`, {
    method: call.method,
    headers: { ...cliHeaders(token, call.body !== undefined), ...extra },
    body: call.body,
  });
}

/** The requests that reached the stand-in, less the gateway's own health probes. */
function forwarded(openfaas: OpenFaasStandIn): RecordedRequest[] {
  return openfaas.requests.filter((r) => !(r.method === 'GET' && r.url === '/healthz'));
}

function headerNames(raw: string[]): string[] {
  return raw.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
}

function assertTokenNowhere(rec: RecordedRequest, token: string): void {
  const raw = rec.rawHeaders.join('\n');
  assert.ok(!raw.includes(token), `the caller's token reached OpenFaaS in ${rec.method} ${rec.url}`);
  assert.doesNotMatch(raw, /bearer/i, `a Bearer header reached OpenFaaS in ${rec.method} ${rec.url}`);
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade'];

/** Checks everything the contract fixes about a /system/* request that left the gateway. */
function assertSystemForward(h: Harness, rec: RecordedRequest, call: CliCall, token: string): void {
  assert.equal(rec.method, call.method);
  assert.equal(rec.url, call.path, 'the path and query string must reach OpenFaaS byte for byte');
  assert.equal(rec.headers.authorization, ADMIN_BASIC, 'Authorization must be replaced by the admin Basic credentials');
  assert.equal(headerNames(rec.rawHeaders).filter((n) => n === 'authorization').length, 1, 'exactly one Authorization header');
  assertTokenNowhere(rec, token);
  assert.equal(rec.headers['user-agent'], USER_AGENT);
  assert.equal(rec.headers['accept-encoding'], 'gzip');
  if (call.body !== undefined) {
    assert.equal(rec.headers['content-type'], 'application/json');
    assert.ok(rec.complete && !rec.aborted, 'the body must arrive complete');
    assert.deepEqual(rec.body, Buffer.from(call.body), 'the body must reach OpenFaaS byte for byte');
  } else {
    assert.equal(rec.body.length, 0);
  }
  assertForwardingHeaders(h, rec);
}

function assertForwardingHeaders(h: Harness, rec: RecordedRequest): void {
  assert.match(String(rec.headers['x-forwarded-for']), /(^|,\s*)(::ffff:)?127\.0\.0\.1$/);
  assert.equal(rec.headers['x-forwarded-host'], `127.0.0.1:${h.gateway.port}`);
  assert.equal(rec.headers['x-forwarded-proto'], 'http');
}

/** The stand-in answered this; the caller must get the same status, content type and bytes. */
function assertRelayed(res: HttpResponse, status: number, body?: string | Buffer): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  if (body !== undefined) assert.deepEqual(res.body, Buffer.from(body));
}

/** A 401 as the contract fixes it for a request without a token. */
function assertUnauthorized(res: HttpResponse, exactChallenge: boolean): void {
  assert.equal(res.status, 401, res.text);
  const challenge = String(res.headers['www-authenticate']);
  if (exactChallenge) assert.equal(challenge, REALM_CHALLENGE);
  else assert.ok(challenge.startsWith(REALM_CHALLENGE), challenge);
  assertJsonError(res);
}

function assertJsonError(res: HttpResponse): { error: string; error_description: string } {
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assert.equal(typeof body.error, 'string');
  assert.ok(body.error.length > 0);
  assert.equal(typeof body.error_description, 'string');
  assert.ok(body.error_description.length > 0);
  return body;
}

function assertNoAdminSecret(res: HttpResponse): void {
  const everything = `${JSON.stringify(res.headers)}\n${res.body.toString('latin1')}`;
  assert.ok(!everything.includes(ADMIN_PASSWORD), 'the admin password must never reach a caller');
  assert.ok(!everything.includes(ADMIN_BASIC_B64), 'the admin credentials must never reach a caller');
}

/** What the stand-in answers a GET with the admin credentials, straight, bypassing the gateway. */
async function direct(openfaas: OpenFaasStandIn, path: string): Promise<HttpResponse> {
  const res = await request(`${openfaas.url}${path}`, { headers: { Authorization: ADMIN_BASIC } });
  openfaas.clearRequests();
  return res;
}

const FIGLET = JSON.stringify({
  service: 'figlet',
  image: 'ghcr.io/openfaas/figlet:latest',
  namespace: DEFAULT_NAMESPACE,
  envProcess: 'figlet',
  envVars: { greeting: 'grüße, 世界' },
  labels: { 'com.openfaas.scale.min': '1' },
  annotations: { topic: 'cron-function' },
  secrets: [],
});

/** Every protected request faas-cli makes, for the refusal tests. */
const PROTECTED: CliCall[] = [
  { method: 'GET', path: '/system/functions' },
  { method: 'GET', path: `/system/functions?namespace=${DEFAULT_NAMESPACE}` },
  { method: 'GET', path: `/system/function/echo?usage=1&namespace=${DEFAULT_NAMESPACE}` },
  { method: 'PUT', path: '/system/functions', body: FIGLET },
  { method: 'POST', path: '/system/functions', body: FIGLET },
  { method: 'DELETE', path: '/system/functions', body: '{"functionName":"echo"}' },
  { method: 'GET', path: '/system/logs?follow=true&name=echo&tail=-1' },
  { method: 'GET', path: '/system/secrets' },
  { method: 'POST', path: '/system/secrets', body: '{"name":"k","value":"v"}' },
  { method: 'PUT', path: '/system/secrets', body: '{"name":"k","value":"v"}' },
  { method: 'DELETE', path: '/system/secrets', body: '{"name":"k"}' },
  { method: 'GET', path: '/system/namespaces' },
  { method: 'GET', path: '/system/namespace/openfaas-fn' },
  { method: 'GET', path: '/system/info' },
  { method: 'POST', path: '/system/scale-function/echo', body: '{"serviceName":"echo","namespace":"openfaas-fn","replicas":0}' },
];

/** A raw request line, so that the target reaches the gateway exactly as written (no URL normalisation). */
async function rawRequest(h: Harness, method: string, target: string, token: string): Promise<{ status: number; headers: string; body: string }> {
  const raw =
    `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${h.gateway.port}\r\nUser-Agent: ${USER_AGENT}\r\n` +
    `Authorization: Bearer ${token}\r\nConnection: close\r\n\r\n`;
  const text = await rawHttp('127.0.0.1', h.gateway.port, raw);
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  assert.ok(status, `no HTTP response to ${method} ${target}: ${JSON.stringify(text.slice(0, 200))}`);
  const split = text.indexOf('\r\n\r\n');
  return { status: Number(status[1]), headers: text.slice(0, split), body: text.slice(split + 4) };
}

describe('faas-cli through the gateway (allow_invoke unset)', () => {
  let h: Harness;
  let token: string;

  before(async () => {
    h = await Harness.start();
    token = await h.token();
  });
  after(() => h?.close());
  beforeEach(() => {
    h?.openfaas.clearRequests();
    h?.openfaas.clearOverrides();
  });

  /** Sends a faas-cli call with the token; returns the response and the one request it caused upstream. */
  async function cli(call: CliCall): Promise<{ res: HttpResponse; rec: RecordedRequest }> {
    const before = forwarded(h.openfaas).length;
    const res = await send(h, call, token);
    const recs = forwarded(h.openfaas).slice(before);
    assert.equal(recs.length, 1, `${call.method} ${call.path} should cause exactly one request upstream, got ${recs.length}`);
    assertSystemForward(h, recs[0] as RecordedRequest, call, token);
    return { res, rec: recs[0] as RecordedRequest };
  }

  describe('list', () => {
    it('faas-cli list: GET /system/functions', async () => {
      const expected = await direct(h.openfaas, '/system/functions');
      const { res } = await cli({ method: 'GET', path: '/system/functions' });
      assertRelayed(res, 200, expected.body);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.deepEqual(res.json().map((f: { name: string }) => f.name).sort(), ['echo', 'nodeinfo']);
    });

    it('faas-cli list -n openfaas-fn: GET /system/functions?namespace=openfaas-fn', async () => {
      const path = `/system/functions?namespace=${DEFAULT_NAMESPACE}`;
      const expected = await direct(h.openfaas, path);
      const { res } = await cli({ method: 'GET', path });
      assertRelayed(res, 200, expected.body);
    });

    it("faas-cli list -n dev: OpenFaaS's refusal reaches the caller unchanged", async () => {
      const path = '/system/functions?namespace=dev';
      const expected = await direct(h.openfaas, path);
      assert.equal(expected.status, 400);
      const { res } = await cli({ method: 'GET', path });
      assertRelayed(res, 400, expected.body);
    });
  });

  describe('describe', () => {
    it('faas-cli describe echo: GET /system/function/echo?usage=1&namespace=..., then GET /system/functions', async () => {
      const describePath = `/system/function/echo?usage=1&namespace=${DEFAULT_NAMESPACE}`;
      const expected = await direct(h.openfaas, describePath);
      const first = await cli({ method: 'GET', path: describePath });
      assertRelayed(first.res, 200, expected.body);
      assert.equal(first.res.json().name, 'echo');
      assert.ok(first.res.json().usage, 'usage=1 must reach OpenFaaS (it adds usage only then)');
      const second = await cli({ method: 'GET', path: '/system/functions' });
      assert.equal(second.res.status, 200);
    });

    it('faas-cli describe missing: the 404 reaches the caller unchanged', async () => {
      const path = `/system/function/missing?usage=1&namespace=${DEFAULT_NAMESPACE}`;
      const expected = await direct(h.openfaas, path);
      assert.equal(expected.status, 404);
      const { res } = await cli({ method: 'GET', path });
      assertRelayed(res, 404, expected.body);
    });
  });

  describe('deploy and remove', () => {
    it('faas-cli deploy (new function): PUT answers 404, then the same body with POST creates it', async () => {
      assert.equal(h.openfaas.functionStatus('figlet'), undefined);
      const put = await cli({ method: 'PUT', path: '/system/functions', body: FIGLET });
      assertRelayed(put.res, 404);
      assert.match(put.res.text, /figlet/);
      const post = await cli({ method: 'POST', path: '/system/functions', body: FIGLET });
      assertRelayed(post.res, 202);
      const deployed = h.openfaas.functionStatus('figlet');
      assert.equal(deployed?.image, 'ghcr.io/openfaas/figlet:latest');
      assert.deepEqual(deployed?.envVars, { greeting: 'grüße, 世界' });
    });

    it('faas-cli deploy (existing function): PUT updates it', async () => {
      const update = FIGLET.replace('figlet:latest', 'figlet:0.13.0');
      const put = await cli({ method: 'PUT', path: '/system/functions', body: update });
      assertRelayed(put.res, 202);
      assert.equal(h.openfaas.functionStatus('figlet')?.image, 'ghcr.io/openfaas/figlet:0.13.0');
    });

    it('faas-cli remove figlet: DELETE /system/functions with body {"functionName":"figlet"}', async () => {
      const del = await cli({ method: 'DELETE', path: '/system/functions', body: '{"functionName":"figlet"}' });
      assertRelayed(del.res, 202);
      assert.equal(h.openfaas.functionStatus('figlet'), undefined);
    });

    it('faas-cli remove of a missing function: the 404 reaches the caller', async () => {
      const del = await cli({ method: 'DELETE', path: '/system/functions', body: '{"functionName":"figlet"}' });
      assertRelayed(del.res, 404);
      assert.match(del.res.text, /figlet/);
    });
  });

  describe('logs', () => {
    it('faas-cli logs echo: the NDJSON stream arrives line by line, each before the next is written', async () => {
      const path = '/system/logs?follow=true&name=echo&tail=-1';
      const earlier = h.openfaas.emitLog('echo', 'written before the stream opened');
      const stream = await openStream(`${h.url}${path}`, { headers: cliHeaders(token, false), timeoutMs: 3000 });
      try {
        assert.equal(stream.status, 200);
        assert.match(String(stream.headers['content-type']), /^application\/x-ndjson/);
        assert.deepEqual(JSON.parse((await stream.nextLine(2000)) ?? 'null'), earlier);
        await waitUntil(() => h.openfaas.activeLogStreams === 1, 2000, { message: 'the stand-in never saw the log stream open' });
        for (let i = 1; i <= 4; i++) {
          const entry = h.openfaas.emitLog('echo', `line ${i}`);
          // Line i+1 is written only once line i has arrived: a buffering gateway times out here.
          const line = await stream.nextLine(2000);
          assert.deepEqual(JSON.parse(line ?? 'null'), entry, `line ${i}`);
        }
        h.openfaas.endLogs();
        assert.equal(await stream.nextLine(2000), null, 'the end of the upstream stream ends the caller\'s');
      } finally {
        stream.close();
      }
      const recs = forwarded(h.openfaas);
      assert.equal(recs.length, 1);
      assertSystemForward(h, recs[0] as RecordedRequest, { method: 'GET', path }, token);
    });

    it('faas-cli logs of a quiet function: the 200 and its headers arrive before any line is written', async () => {
      // nodeinfo has logged nothing: OpenFaaS sends its headers at once and then waits for lines.
      const stream = await openStream(`${h.url}/system/logs?follow=true&name=nodeinfo&tail=-1`, {
        headers: cliHeaders(token, false),
        timeoutMs: 2000,
      });
      try {
        assert.equal(stream.status, 200);
        assert.match(String(stream.headers['content-type']), /^application\/x-ndjson/);
        const entry = h.openfaas.emitLog('nodeinfo', 'first line');
        assert.deepEqual(JSON.parse((await stream.nextLine(2000)) ?? 'null'), entry);
      } finally {
        stream.close();
      }
    });
  });

  describe('secrets', () => {
    it('faas-cli secret list: GET /system/secrets', async () => {
      const expected = await direct(h.openfaas, '/system/secrets');
      const { res } = await cli({ method: 'GET', path: '/system/secrets' });
      assertRelayed(res, 200, expected.body);
    });

    it('faas-cli secret create: POST /system/secrets', async () => {
      const { res } = await cli({ method: 'POST', path: '/system/secrets', body: '{"name":"api-key","value":"first value"}' });
      assertRelayed(res, 201);
      assert.equal(h.openfaas.secretValue('api-key')?.toString(), 'first value');
    });

    it('faas-cli secret create of an existing secret: the 409 reaches the caller', async () => {
      const { res } = await cli({ method: 'POST', path: '/system/secrets', body: '{"name":"api-key","value":"again"}' });
      assertRelayed(res, 409);
      assert.match(res.text, /api-key/);
      assert.equal(h.openfaas.secretValue('api-key')?.toString(), 'first value');
    });

    it('faas-cli secret list shows the new secret', async () => {
      const { res } = await cli({ method: 'GET', path: '/system/secrets' });
      assertRelayed(res, 200);
      assert.deepEqual(res.json(), [{ name: 'api-key', namespace: DEFAULT_NAMESPACE }]);
    });

    it('faas-cli secret update: PUT /system/secrets', async () => {
      const { res } = await cli({ method: 'PUT', path: '/system/secrets', body: '{"name":"api-key","value":"second value"}' });
      assertRelayed(res, 200);
      assert.equal(h.openfaas.secretValue('api-key')?.toString(), 'second value');
    });

    it('faas-cli secret remove: DELETE /system/secrets with a body', async () => {
      const { res } = await cli({ method: 'DELETE', path: '/system/secrets', body: '{"name":"api-key"}' });
      assertRelayed(res, 204);
      assert.equal(h.openfaas.secretValue('api-key'), undefined);
    });
  });

  describe('namespaces, version, scale, ready', () => {
    it('faas-cli namespaces: GET /system/namespaces', async () => {
      const expected = await direct(h.openfaas, '/system/namespaces');
      const { res } = await cli({ method: 'GET', path: '/system/namespaces' });
      assertRelayed(res, 200, expected.body);
      assert.ok(res.json().includes(DEFAULT_NAMESPACE));
    });

    it('namespace CRUD: GET /system/namespace/openfaas-fn passes OpenFaaS CE\'s 501 through', async () => {
      const path = '/system/namespace/openfaas-fn';
      const expected = await direct(h.openfaas, path);
      const { res } = await cli({ method: 'GET', path });
      assertRelayed(res, expected.status, expected.body);
    });

    it('faas-cli version: GET /system/info', async () => {
      const expected = await direct(h.openfaas, '/system/info');
      const { res } = await cli({ method: 'GET', path: '/system/info' });
      assertRelayed(res, 200, expected.body);
      assert.equal(typeof res.json().provider.provider, 'string');
    });

    it('faas-cli scale: POST /system/scale-function/echo', async () => {
      const body = JSON.stringify({ serviceName: 'echo', namespace: DEFAULT_NAMESPACE, replicas: 3 });
      const { res } = await cli({ method: 'POST', path: '/system/scale-function/echo', body });
      assertRelayed(res, 202);
      assert.equal(h.openfaas.functionStatus('echo')?.replicas, 3);
    });

    it('faas-cli ready: GET /healthz without a token answers 200', async () => {
      const res = await request(`${h.url}/healthz`, { headers: { 'User-Agent': USER_AGENT, 'Accept-Encoding': 'gzip' } });
      assert.equal(res.status, 200, res.text);
      for (const rec of h.openfaas.requests) assert.equal(rec.url, '/healthz', 'only the health probe may reach OpenFaaS');
    });
  });

  describe('headers and query strings', () => {
    it('query strings reach OpenFaaS verbatim', async () => {
      for (const query of ['?a=1&b=%2F&c=%20x&a=2', '?namespace=openfaas-fn&q=a+b&empty=&flag', '?x=%zz&y=%E4%B8%96&z=a%26b%3Dc']) {
        h.openfaas.clearRequests();
        const { res } = await cli({ method: 'GET', path: `/system/functions${query}` });
        assert.equal(res.status, 200, `${query}: ${res.text}`);
      }
    });

    it("hop-by-hop headers of the caller's connection do not reach OpenFaaS", async () => {
      const call = { method: 'GET', path: '/system/info' };
      const res = await send(h, call, token, {
        Connection: 'keep-alive, X-Hop-Secret',
        'X-Hop-Secret': 'named-in-connection',
        'Keep-Alive': 'timeout=5, max=100',
        'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
        'Proxy-Connection': 'keep-alive',
        TE: 'trailers',
        Upgrade: 'h2c',
      });
      assert.equal(res.status, 200, res.text);
      const [rec] = forwarded(h.openfaas);
      assert.ok(rec);
      assertSystemForward(h, rec, call, token);
      for (const name of [...HOP_BY_HOP.filter((n) => n !== 'connection'), 'x-hop-secret']) {
        assert.equal(rec.headers[name], undefined, `${name} must not be forwarded`);
      }
      // The gateway's own connection may say keep-alive or close; the caller's list must not survive.
      assert.ok(rec.headers.connection === undefined || /^(keep-alive|close)$/i.test(rec.headers.connection), String(rec.headers.connection));
    });

    it("hop-by-hop headers of OpenFaaS's response do not reach the caller", async () => {
      h.openfaas.override('GET', '/system/info', (_req, res) => {
        res.writeHead(200, {
          'Content-Type': 'application/json',
          Connection: 'keep-alive, X-Upstream-Hop',
          'X-Upstream-Hop': 'named-in-connection',
          'Keep-Alive': 'timeout=5',
          'Proxy-Authenticate': 'Basic realm="upstream"',
          'X-End-To-End': 'kept',
        });
        res.end('{"ok":true}');
      });
      const res = await send(h, { method: 'GET', path: '/system/info' }, token);
      assertRelayed(res, 200, '{"ok":true}');
      assert.equal(res.headers['x-end-to-end'], 'kept');
      for (const name of ['x-upstream-hop', 'keep-alive', 'proxy-authenticate']) {
        assert.equal(res.headers[name], undefined, `${name} must not reach the caller`);
      }
    });

    it('a binary body on a /system route reaches OpenFaaS byte for byte', async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      h.openfaas.override('POST', '/system/scale-function/', (_req, res) => {
        res.writeHead(202, { 'Content-Length': 0 }).end();
      });
      const res = await request(`${h.url}/system/scale-function/echo`, {
        method: 'POST',
        headers: { ...cliHeaders(token, false), 'Content-Type': 'application/octet-stream' },
        body: bytes,
      });
      assert.equal(res.status, 202);
      const [rec] = forwarded(h.openfaas);
      assert.ok(rec);
      await waitUntil(() => rec.complete);
      assert.deepEqual(rec.body, bytes);
      assert.equal(rec.headers.authorization, ADMIN_BASIC);
    });
  });

  describe('refused without a token', () => {
    for (const call of PROTECTED) {
      it(`${call.method} ${call.path} without Authorization: 401 Bearer realm="openfaas", nothing upstream`, async () => {
        const res = await send(h, call, undefined);
        assertUnauthorized(res, true);
        assert.equal(forwarded(h.openfaas).length, 0);
      });
    }

    for (const call of PROTECTED) {
      it(`${call.method} ${call.path} with faas-cli's empty "Authorization: Bearer ": 401, nothing upstream`, async () => {
        const res = await send(h, call, '');
        assertUnauthorized(res, false);
        assert.equal(forwarded(h.openfaas).length, 0);
      });
    }

    it('a stored faas-cli login (the admin Basic credentials themselves) is refused with 401, nothing upstream', async () => {
      const res = await request(`${h.url}/system/functions`, { headers: { 'User-Agent': USER_AGENT, Authorization: ADMIN_BASIC } });
      assert.equal(res.status, 401, res.text);
      assert.ok(String(res.headers['www-authenticate']).startsWith(REALM_CHALLENGE));
      assertJsonError(res);
      assert.equal(forwarded(h.openfaas).length, 0);
    });
  });

  describe('invocations while allow_invoke is unset', () => {
    const calls: Array<[string, string, boolean]> = [
      ['POST', '/function/echo', true],
      ['POST', '/function/echo.openfaas-fn', true],
      ['GET', '/function/echo/sub/path?a=1', true],
      ['POST', '/async-function/echo', true],
      ['POST', '/function/echo.openfaas-fn', false],
    ];
    for (const [method, path, withToken] of calls) {
      it(`${method} ${path} ${withToken ? 'with' : 'without'} a token: 403 with one clear sentence, nothing upstream`, async () => {
        const res = await request(`${h.url}${path}`, {
          method,
          headers: { 'User-Agent': USER_AGENT, ...(withToken ? { Authorization: `Bearer ${token}` } : {}) },
          body: method === 'POST' ? 'hello' : undefined,
        });
        assert.equal(res.status, 403, res.text);
        // faas-cli prints a 403 verbatim: the body is one plain sentence that names the switch.
        assert.match(String(res.headers['content-type']), /^text\/plain/);
        const sentence = res.text.trim();
        assert.match(sentence, /allow_invoke/);
        assert.match(sentence, /^[A-Z]/);
        assert.equal(sentence.split(/[.!?](?:\s|$)/).filter((s) => s.trim()).length, 1, `one sentence: ${sentence}`);
        assert.match(sentence, /[.!?]$/);
        assert.equal(forwarded(h.openfaas).length, 0);
      });
    }
  });

  describe('paths that could resolve to another route', () => {
    const targets = [
      '/system/../function/echo',
      '/system/%2e%2e/function/echo',
      '/system/%2E%2E/function/echo',
      '/system/.%2e/function/echo',
      '/system/functions/..',
      '/system/./functions',
      '/system/%2e/functions',
      '/system/functions/../info',
      '/system/%2e%2e%2ffunction/echo',
    ];
    for (const target of targets) {
      it(`GET ${target}: 400 JSON, nothing upstream`, async () => {
        const res = await rawRequest(h, 'GET', target, token);
        assert.equal(res.status, 400, `${target}: ${res.headers}\n${res.body}`);
        assert.match(res.headers, /content-type: application\/json/i);
        const body = JSON.parse(res.body);
        assert.equal(typeof body.error_description, 'string');
        assert.equal(forwarded(h.openfaas).length, 0, `${target} reached OpenFaaS as ${forwarded(h.openfaas)[0]?.url}`);
      });
    }
  });

  describe('unknown paths', () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/systemx'],
      ['GET', '/foo'],
      ['GET', '/system'],
      ['POST', '/systemx/functions'],
      ['GET', '/functions'],
      ['POST', '/function'],
      ['GET', '/ui/'],
    ] as const) {
      for (const withToken of [true, false]) {
        it(`${method} ${path} ${withToken ? 'with' : 'without'} a token: 404 JSON, nothing upstream`, async () => {
          const res = await request(`${h.url}${path}`, { method, headers: withToken ? { Authorization: `Bearer ${token}` } : {} });
          assert.equal(res.status, 404, res.text);
          assertJsonError(res);
          assert.equal(forwarded(h.openfaas).length, 0);
        });
      }
    }
  });
});

describe('invocations with allow_invoke=true', () => {
  let h: Harness;
  let token: string;
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

  before(async () => {
    h = await Harness.start({ env: { allow_invoke: 'true' } });
    token = await h.token();
  });
  after(() => h?.close());
  beforeEach(() => h?.openfaas.clearRequests());

  function assertInvocationForward(rec: RecordedRequest, path: string, body: Buffer): void {
    assert.equal(rec.url, path);
    assert.equal(rec.headers.authorization, undefined, "an invocation must carry neither the caller's token nor the admin credentials");
    const raw = rec.rawHeaders.join('\n');
    assert.ok(!raw.includes(token), "the caller's token reached the function");
    assert.ok(!raw.includes(ADMIN_BASIC_B64), 'the admin credentials reached the function');
    assert.equal(rec.headers['user-agent'], USER_AGENT);
    assert.deepEqual(rec.body, body);
    assertForwardingHeaders(h, rec);
  }

  it('POST /function/echo with all 256 byte values: echoed byte for byte, no Authorization reaches the function', async () => {
    const res = await request(`${h.url}/function/echo`, {
      method: 'POST',
      headers: { 'User-Agent': USER_AGENT, Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-received-authorization'], 'absent');
    assert.deepEqual(res.body, bytes);
    const [rec] = forwarded(h.openfaas);
    assert.ok(rec);
    assertInvocationForward(rec, '/function/echo', bytes);
  });

  it('POST /function/echo.openfaas-fn with a 1 MiB binary body: echoed byte for byte', async () => {
    const big = Buffer.concat(Array.from({ length: 4096 }, () => bytes));
    const res = await request(`${h.url}/function/echo.openfaas-fn`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
      body: big,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-received-authorization'], 'absent');
    assert.ok(res.body.equals(big), 'the echoed body differs from the one sent');
  });

  it('query string and sub-path of an invocation reach the function verbatim', async () => {
    const path = '/function/echo.openfaas-fn/sub/path?a=1&b=%2F&c=%20x&a=2';
    const res = await request(`${h.url}${path}`, {
      method: 'POST',
      headers: { 'User-Agent': USER_AGENT, Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
      body: 'hi',
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'hi');
    const [rec] = forwarded(h.openfaas);
    assert.ok(rec);
    assertInvocationForward(rec, path, Buffer.from('hi'));
  });

  it('POST /async-function/echo: 202 with X-Call-Id, body forwarded, no Authorization reaches OpenFaaS', async () => {
    const res = await request(`${h.url}/async-function/echo`, {
      method: 'POST',
      headers: {
        'User-Agent': USER_AGENT,
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/octet-stream',
        'X-Callback-Url': 'http://receiver.openfaas-fn:8080/',
      },
      body: bytes,
    });
    assert.equal(res.status, 202, res.text);
    assert.match(String(res.headers['x-call-id']), /^[0-9a-f-]{36}$/);
    const [rec] = forwarded(h.openfaas);
    assert.ok(rec);
    assertInvocationForward(rec, '/async-function/echo', bytes);
    assert.equal(rec.headers['x-callback-url'], 'http://receiver.openfaas-fn:8080/');
  });

  it("a function's own 404 reaches the caller", async () => {
    const res = await request(`${h.url}/function/missing`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: 'x' });
    assert.equal(res.status, 404);
    assert.match(res.text, /missing/);
  });

  for (const [method, path] of [
    ['POST', '/function/echo'],
    ['POST', '/function/echo.openfaas-fn'],
    ['GET', '/function/echo?x=1'],
    ['POST', '/async-function/echo'],
  ] as const) {
    it(`${method} ${path} without a token (faas-cli invoke): 401 Bearer realm="openfaas", nothing upstream`, async () => {
      const res = await request(`${h.url}${path}`, { method, headers: { 'User-Agent': USER_AGENT }, body: method === 'POST' ? 'hello' : undefined });
      assertUnauthorized(res, true);
      assert.equal(forwarded(h.openfaas).length, 0);
    });
  }

  it('/system/* still gets the admin credentials when invocations are allowed', async () => {
    const res = await request(`${h.url}/system/functions`, { headers: cliHeaders(token, false) });
    assert.equal(res.status, 200);
    const [rec] = forwarded(h.openfaas);
    assert.ok(rec);
    assertSystemForward(h, rec, { method: 'GET', path: '/system/functions' }, token);
  });

  for (const target of ['/function/../system/functions', '/function/%2e%2e/system/info', '/async-function/echo/../../system/info']) {
    it(`GET ${target}: 400, nothing upstream`, async () => {
      const res = await rawRequest(h, 'GET', target, token);
      assert.equal(res.status, 400, `${target}: ${res.headers}`);
      assert.equal(forwarded(h.openfaas).length, 0);
    });
  }
});

describe('OpenFaaS unreachable', () => {
  let h: Harness;
  let token: string;

  before(async () => {
    h = await Harness.start({ env: { gateway_url: `http://127.0.0.1:${await closedPort()}` } });
    token = await h.token();
  });
  after(() => h?.close());

  for (const call of [
    { method: 'GET', path: '/system/functions' },
    { method: 'DELETE', path: '/system/functions', body: '{"functionName":"echo"}' },
  ]) {
    it(`${call.method} ${call.path}: 502 JSON without the admin credentials`, async () => {
      const res = await send(h, call, token);
      assert.equal(res.status, 502, res.text);
      assertJsonError(res);
      assertNoAdminSecret(res);
    });
  }
});

describe('OpenFaaS slower than upstream_timeout=300ms', () => {
  let h: Harness;
  let token: string;

  before(async () => {
    h = await Harness.start({ env: { upstream_timeout: '300ms' } });
    token = await h.token();
  });
  after(() => h?.close());

  it('GET /system/functions: 504 JSON after about 300 ms, without the admin credentials', async () => {
    h.openfaas.setResponseDelay(3000);
    try {
      const started = Date.now();
      const res = await send(h, { method: 'GET', path: '/system/functions' }, token);
      const elapsed = Date.now() - started;
      assert.equal(res.status, 504, res.text);
      assertJsonError(res);
      assertNoAdminSecret(res);
      assert.ok(elapsed >= 250 && elapsed < 2000, `answered after ${elapsed} ms`);
    } finally {
      h.openfaas.setResponseDelay(0);
    }
  });

  it('a prompt answer still passes', async () => {
    const res = await send(h, { method: 'GET', path: '/system/functions' }, token);
    assert.equal(res.status, 200, res.text);
  });

  it('a followed log stream idle for longer than upstream_timeout is not cut', async () => {
    const first = h.openfaas.emitLog('echo', 'before the quiet spell');
    const stream = await openStream(`${h.url}/system/logs?follow=true&name=echo&tail=-1`, { headers: cliHeaders(token, false), timeoutMs: 3000 });
    try {
      assert.equal(stream.status, 200);
      assert.deepEqual(JSON.parse((await stream.nextLine(2000)) ?? 'null'), first);
      await waitUntil(() => h.openfaas.activeLogStreams === 1, 2000);
      await sleep(700);
      const entry = h.openfaas.emitLog('echo', 'after a quiet spell');
      assert.deepEqual(JSON.parse((await stream.nextLine(2000)) ?? 'null'), entry);
    } finally {
      stream.close();
    }
  });
});
