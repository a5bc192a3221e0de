import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { rawHttp, request } from '../support/http-client';
import { sleep } from '../support/wait';
import { ADMIN_BASIC, ADMIN_PASSWORD, Harness } from './harness';

/** The status code of a raw HTTP response, or 0 when the server sent nothing. */
function statusOf(raw: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return match ? Number(match[1]) : 0;
}

/** Every status line in a raw response stream (a 100 Continue shows up as its own). */
function statusLines(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}

/** The header names OpenFaaS received, lower-cased, as sent on the wire. */
function wireNames(rawHeaders: string[]): string[] {
  return rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
}

describe('proxy: what reaches OpenFaaS', () => {
  let h: Harness;
  let token: string;

  before(async () => {
    h = await Harness.start({ env: { allow_invoke: 'true' } });
    token = await h.token();
  });
  after(() => h?.close());

  /** Sends raw bytes, half-closes after 200 ms, and waits for the gateway to finish with the exchange. */
  async function raw(bytes: string | Buffer): Promise<string> {
    const out = await rawHttp('127.0.0.1', h.gateway.port, bytes, { timeoutMs: 3000, closeAfterMs: 200 });
    await sleep(50);
    return out;
  }

  async function assertStillServing(): Promise<void> {
    const res = await request(`${h.url}/system/functions`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, 'the gateway must keep serving');
  }

  describe('credentials', () => {
    it("/system/* gets the admin credentials instead of the caller's token, exactly once", async () => {
      h.openfaas.clearRequests();
      const res = await request(`${h.url}/system/functions`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      const [seen] = h.openfaas.requests;
      assert.equal(seen.headers.authorization, ADMIN_BASIC);
      assert.equal(wireNames(seen.rawHeaders).filter((n) => n === 'authorization').length, 1);
      assert.ok(!res.text.includes(ADMIN_PASSWORD));
    });

    it("/function/* loses the caller's Authorization and gets none, so the function never sees a credential", async () => {
      h.openfaas.clearRequests();
      const res = await request(`${h.url}/function/echo`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: 'payload' });
      assert.equal(res.status, 200);
      assert.equal(res.text, 'payload');
      assert.equal(res.headers['x-received-authorization'], 'absent');
      const [seen] = h.openfaas.requests;
      assert.equal(seen.headers.authorization, undefined);
      assert.ok(!JSON.stringify(seen.rawHeaders).includes('Bearer'));
    });

    it('a second Authorization header after the bearer token is dropped on /system/* and /function/*', async () => {
      for (const path of ['/system/functions', '/function/echo']) {
        h.openfaas.clearRequests();
        const out = await raw(
          `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nAuthorization: Basic ${Buffer.from('admin:guess').toString('base64')}\r\n\r\n`,
        );
        assert.equal(statusOf(out), 200, path);
        const [seen] = h.openfaas.requests;
        const sent = wireNames(seen.rawHeaders).filter((n) => n === 'authorization');
        assert.deepEqual(sent, path.startsWith('/system/') ? ['authorization'] : [], path);
        if (path.startsWith('/system/')) assert.equal(seen.headers.authorization, ADMIN_BASIC);
      }
    });

    it('Basic credentials first (even with a bearer token after them) are refused and reach nothing', async () => {
      h.openfaas.clearRequests();
      const out = await raw(`GET /system/functions HTTP/1.1\r\nHost: x\r\nAuthorization: ${ADMIN_BASIC}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      assert.equal(statusOf(out), 401);
      assert.equal(h.openfaas.requests.length, 0);
    });

    it('underscore variants (X_Forwarded_For, Proxy_Authorization, ...) never reach OpenFaaS; X-Forwarded-For ends with the peer', async () => {
      h.openfaas.clearRequests();
      const out = await raw(
        `GET /function/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nX_Forwarded_For: 6.6.6.6\r\n` +
          `X_Forwarded_Host: evil\r\nProxy_Authorization: Basic eA==\r\nAuthorization_: Basic eA==\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n`,
      );
      assert.equal(statusOf(out), 200);
      const [seen] = h.openfaas.requests;
      const names = wireNames(seen.rawHeaders);
      assert.deepEqual(names.filter((n) => n.includes('_')), []);
      assert.equal(seen.headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
      assert.equal(seen.headers.authorization, undefined);
    });

    it('hop-by-hop headers and those named by Connection stay at this hop', async () => {
      h.openfaas.clearRequests();
      const out = await raw(
        `POST /function/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: keep-alive, x-secret-hop\r\n` +
          `Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\n` +
          `X-Secret-Hop: 1\r\nX-Kept: yes\r\nContent-Length: 5\r\n\r\nhello`,
      );
      assert.equal(statusOf(out), 200);
      const [seen] = h.openfaas.requests;
      const names = wireNames(seen.rawHeaders);
      for (const gone of ['keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'upgrade', 'x-secret-hop']) {
        assert.ok(!names.includes(gone), `${gone} must not be forwarded`);
      }
      assert.equal(seen.headers['x-kept'], 'yes');
      assert.equal(seen.body.toString(), 'hello');
    });
  });

  describe('body framing (request smuggling)', () => {
    const smuggled = 'GET /system/secrets HTTP/1.1\r\nHost: x\r\n\r\n';
    const chunked = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n0\r\n\r\n`;

    for (const method of ['DELETE', 'OPTIONS']) {
      it(`a chunked ${method} body is refused with 400 (http-proxy would frame it as Content-Length: 0), and nothing reaches OpenFaaS`, async () => {
        h.openfaas.clearRequests();
        const path = method === 'DELETE' ? '/system/functions' : '/function/echo';
        const out = await raw(`${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(smuggled)}`);
        assert.equal(statusOf(out), 400);
        assert.match(out, /must be sent with Content-Length/);
        await sleep(100);
        assert.deepEqual(h.openfaas.requests, []);
      });

      it(`a ${method} body with Content-Length reaches OpenFaaS as that request's body, never as a second request`, async () => {
        h.openfaas.clearRequests();
        const path = method === 'DELETE' ? '/system/functions' : '/function/echo';
        const out = await raw(`${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`);
        assert.notEqual(statusOf(out), 0);
        await sleep(100);
        assert.deepEqual(
          h.openfaas.requests.map((r) => `${r.method} ${r.url}`),
          [`${method} ${path}`],
        );
        assert.equal(h.openfaas.requests[0].body.toString(), smuggled);
      });
    }

    it('a Connection header naming Content-Length cannot unframe the body into a second request', async () => {
      for (const method of ['GET', 'POST', 'DELETE']) {
        h.openfaas.clearRequests();
        const out = await raw(
          `${method} /function/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: content-length\r\n` +
            `Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
        );
        assert.equal(statusOf(out), 200, method);
        await sleep(100);
        assert.deepEqual(h.openfaas.requests.map((r) => `${r.method} ${r.url}`), [`${method} /function/echo`], method);
        assert.equal(h.openfaas.requests[0].body.toString(), smuggled, method);
      }
    });

    it("a smuggled request prefix cannot capture the next caller's admin credentials", async () => {
      h.openfaas.clearRequests();
      // If the body escaped its framing, this request line would swallow the next /system/ request,
      // admin Authorization included, as the body of an invocation, and echo it to some caller.
      const trap = 'POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n';
      await raw(`DELETE /system/functions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(trap)}`);
      // Sequential requests: the gateway's upstream pool hands each the socket the last one freed.
      for (let i = 0; i < 5; i++) {
        const res = await request(`${h.url}/system/functions`, { headers: { authorization: `Bearer ${token}` }, timeoutMs: 2000 });
        assert.equal(res.status, 200);
        assert.ok(!res.text.includes(ADMIN_BASIC) && !res.text.includes('Basic '), 'a caller received admin credentials');
        assert.ok(Array.isArray(res.json()), "the caller got another exchange's response");
      }
      await sleep(100);
      const invocations = h.openfaas.requests.filter((r) => r.url.startsWith('/function/'));
      assert.deepEqual(invocations.map((r) => r.body.toString()), []);
    });

    it('a Transfer-Encoding other than plain chunked is refused before anything is forwarded', async () => {
      h.openfaas.clearRequests();
      const out = await raw(`POST /function/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${chunked('hello')}`);
      assert.equal(statusOf(out), 400);
      assert.equal(h.openfaas.requests.length, 0);
    });

    const malformed: Record<string, string> = {
      'Transfer-Encoding and Content-Length together': 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
      'duplicate Content-Length (same value)': 'Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
      'duplicate Content-Length (different values)': 'Content-Length: 5\r\nContent-Length: 41\r\n\r\nhello',
      'Content-Length list': 'Content-Length: 5, 5\r\n\r\nhello',
      'duplicate Transfer-Encoding': 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'chunked not last': 'Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
      'space before the colon': 'Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
      'CR inside a header value': `X-A: a\rAuthorization: ${ADMIN_BASIC}\r\nContent-Length: 0\r\n\r\n`,
      'bare LF between headers': `X-A: a\nAuthorization: ${ADMIN_BASIC}\r\nContent-Length: 0\r\n\r\n`,
      'obs-fold continuation': `X-A: a\r\n ${ADMIN_BASIC}\r\nContent-Length: 0\r\n\r\n`,
      'NUL in a header value': 'X-A: a\x00b\r\nContent-Length: 0\r\n\r\n',
    };
    for (const [name, rest] of Object.entries(malformed)) {
      it(`${name}: 400, nothing forwarded, the process keeps serving`, async () => {
        h.openfaas.clearRequests();
        const out = await raw(`POST /system/functions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n${rest}`);
        assert.equal(statusOf(out), 400);
        assert.equal(h.openfaas.requests.length, 0);
        await assertStillServing();
      });
    }
  });

  describe('Trailer', () => {
    it('a Trailer header on a Content-Length body is dropped and does not crash the process', async () => {
      h.openfaas.clearRequests();
      const out = await raw(`POST /function/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nTrailer: X-Checksum\r\nContent-Length: 5\r\n\r\nhello`);
      assert.equal(statusOf(out), 200);
      const [seen] = h.openfaas.requests;
      assert.ok(!wireNames(seen.rawHeaders).includes('trailer'));
      assert.equal(seen.body.toString(), 'hello');
      await assertStillServing();
    });

    it('a chunked body with trailer fields streams through; the trailers stay here', async () => {
      h.openfaas.clearRequests();
      const out = await raw(
        `POST /system/functions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nTrailer: Authorization\r\nTransfer-Encoding: chunked\r\n\r\n` +
          `2\r\n{}\r\n0\r\nAuthorization: Basic eA==\r\n\r\n`,
      );
      assert.equal(statusOf(out), 400, 'the stand-in answers an empty deployment with 400: the request did arrive');
      const [seen] = h.openfaas.requests;
      assert.equal(seen.body.toString(), '{}');
      assert.equal(seen.headers.authorization, ADMIN_BASIC);
      assert.ok(!wireNames(seen.rawHeaders).includes('trailer'));
      await assertStillServing();
    });

    it("a Trailer header in OpenFaaS's response does not crash the process", async () => {
      h.openfaas.override('GET', '/function/trailer', (_req, res) => {
        res.socket?.end('HTTP/1.1 200 OK\r\nTrailer: X-Checksum\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
      });
      try {
        const res = await request(`${h.url}/function/trailer`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200);
        assert.equal(res.text, 'ok');
        assert.equal(res.headers.trailer, undefined);
        await assertStillServing();
      } finally {
        h.openfaas.clearOverrides();
      }
    });
  });

  describe('Expect: 100-continue', () => {
    it('with a valid token: 100 Continue after authentication, body forwarded with the admin credentials and without Expect', async () => {
      h.openfaas.clearRequests();
      const body = JSON.stringify({ service: 'expect-fn', image: 'ghcr.io/openfaas/alpine:latest' });
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${h.url}/system/functions`, {
          method: 'POST',
          agent: false,
          headers: { authorization: `Bearer ${token}`, expect: '100-continue', 'content-length': Buffer.byteLength(body) },
        });
        req.on('continue', () => req.end(body));
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
      });
      assert.equal(status, 202);
      const [seen] = h.openfaas.requests;
      assert.equal(seen.headers.expect, undefined);
      assert.equal(seen.headers.authorization, ADMIN_BASIC);
      assert.equal(seen.body.toString(), body);
    });

    for (const [name, authorization] of [
      ['no token', undefined],
      ['an invalid token', 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln'],
      ['the admin Basic credentials', ADMIN_BASIC],
    ] as const) {
      it(`with ${name}: 401 and no 100 Continue; the body is never invited and nothing is forwarded`, async () => {
        h.openfaas.clearRequests();
        const auth = authorization ? `Authorization: ${authorization}\r\n` : '';
        const out = await raw(`POST /system/secrets HTTP/1.1\r\nHost: x\r\n${auth}Expect: 100-continue\r\nContent-Length: 1048576\r\n\r\n`);
        assert.deepEqual(statusLines(out), [401]);
        assert.equal(h.openfaas.requests.length, 0);
      });
    }

    it('an invocation with allow_invoke and Expect gets 100 Continue and streams', async () => {
      h.openfaas.clearRequests();
      const out = await raw(`POST /function/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello`);
      assert.deepEqual(statusLines(out), [100, 200]);
      assert.ok(out.endsWith('hello') || out.includes('\r\n\r\n5\r\nhello'), out);
      assert.equal(h.openfaas.requests[0].headers.expect, undefined);
    });
  });

  describe('request target', () => {
    it('query strings reach OpenFaaS verbatim', async () => {
      h.openfaas.clearRequests();
      const target = `/function/echo?q={"a":1}|^&path=a%2Fb&sp=a%20b+c&empty=&&dup=1&dup=2&u=%E2%9C%93`;
      const out = await raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      assert.equal(statusOf(out), 200);
      assert.equal(h.openfaas.requests[0].url, target);
    });

    for (const target of [
      '/system/..%2Ffunction%2Fecho',
      '/system/%2e%2e%2ffunction/echo',
      '/function/echo/..%2F..%2Fsystem%2Fsecrets',
      '/function/echo/%2E%2E/%2E%2E/system/secrets',
      '/system/functions/..',
      '/system//functions',
      '/function/echo\\..\\..\\system\\secrets',
    ]) {
      it(`${target} is refused: OpenFaaS could resolve it to another route than the one authorized`, async () => {
        h.openfaas.clearRequests();
        const out = await raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
        assert.equal(statusOf(out), 400);
        assert.equal(h.openfaas.requests.length, 0);
      });
    }
  });
});
