import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { prepareUpstreamHeaders, responseHeaders } from './forwarding-headers';

const ADMIN = 'Basic YWRtaW46c2VjcmV0';

function incoming(headers: IncomingHttpHeaders, remoteAddress: string | undefined = '10.1.2.3'): IncomingMessage {
  return { headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

function prepared(headers: IncomingHttpHeaders, route: 'system' | 'function' = 'system'): IncomingHttpHeaders {
  const req = incoming({ host: 'gateway.example', ...headers });
  prepareUpstreamHeaders(req, route, ADMIN);
  return req.headers;
}

describe('prepareUpstreamHeaders', () => {
  it("replaces the caller's Authorization with the admin credentials on /system/*", () => {
    assert.equal(prepared({ authorization: 'Bearer caller' }).authorization, ADMIN);
    assert.equal(prepared({}).authorization, ADMIN);
  });

  it('removes Authorization on invocations and adds none', () => {
    assert.equal(prepared({ authorization: 'Bearer caller' }, 'function').authorization, undefined);
    assert.ok(!('authorization' in prepared({}, 'function')));
  });

  it('removes hop-by-hop headers, Expect and Trailer among them', () => {
    const out = prepared({
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'proxy-authorization': 'Basic eA==',
      'proxy-authenticate': 'Basic',
      te: 'trailers',
      trailer: 'x-checksum',
      upgrade: 'h2c',
      expect: '100-continue',
      'content-length': '2',
    });
    assert.deepEqual(Object.keys(out).sort(), ['authorization', 'content-length', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
  });

  it('removes the headers Connection names, but never the framing of the body', () => {
    const out = prepared({ connection: 'x-secret, Content-Length ,authorization', 'x-secret': '1', 'content-length': '41' });
    assert.equal(out['x-secret'], undefined);
    assert.equal(out['content-length'], '41');
    assert.equal(out.authorization, ADMIN);
  });

  it('Connection naming Host and X-Forwarded-For removes them and leaves no header undefined; framing stays', () => {
    for (const framing of [{ 'content-length': '5' }, { 'transfer-encoding': 'chunked' }] as IncomingHttpHeaders[]) {
      const out = prepared({
        connection: 'host, x-forwarded-for',
        'x-forwarded-for': '192.0.2.1',
        'set-cookie': ['a=1', 'b=2'],
        ...framing,
      });
      const label = JSON.stringify(framing);
      for (const [name, value] of Object.entries(out)) {
        const ok = typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
        assert.ok(ok, `${label}: ${name} is ${JSON.stringify(value)}, not a string or strings`);
      }
      assert.ok(!('host' in out), `${label}: host is named in Connection and must go`);
      assert.ok(!('x-forwarded-host' in out), `${label}: no X-Forwarded-Host without a Host`);
      assert.equal(out['x-forwarded-for'], '10.1.2.3', `${label}: the caller's X-Forwarded-For went with Connection; the peer is set afresh`);
      assert.equal(out.connection, undefined);
      assert.deepEqual(out['set-cookie'], ['a=1', 'b=2']);
      assert.equal(out.authorization, ADMIN);
      assert.equal(out['content-length'], framing['content-length'], label);
      assert.equal(out['transfer-encoding'], framing['transfer-encoding'], label);
    }
  });

  it('sends a chunked body on chunked, whatever Connection names', () => {
    const out = prepared({ connection: 'transfer-encoding', 'transfer-encoding': 'Chunked' });
    assert.equal(out['transfer-encoding'], 'chunked');
    assert.equal(out['content-length'], undefined);
  });

  it('adds no framing to a request that had none', () => {
    const out = prepared({});
    assert.equal(out['content-length'], undefined);
    assert.equal(out['transfer-encoding'], undefined);
  });

  it('drops every header with an underscore, which some servers fold into its dashed twin', () => {
    const out = prepared({ x_forwarded_for: '6.6.6.6', authorization_: 'x', 'x-ok': 'y' });
    assert.deepEqual(
      Object.keys(out).filter((name) => name.includes('_')),
      [],
    );
    assert.equal(out['x-forwarded-for'], '10.1.2.3');
    assert.equal(out['x-ok'], 'y');
  });

  it('appends the peer to X-Forwarded-For and fills X-Forwarded-Host and -Proto when absent', () => {
    const out = prepared({ 'x-forwarded-for': '192.0.2.1', 'x-forwarded-proto': 'https' });
    assert.equal(out['x-forwarded-for'], '192.0.2.1, 10.1.2.3');
    assert.equal(out['x-forwarded-host'], 'gateway.example');
    assert.equal(out['x-forwarded-proto'], 'https');
    assert.equal(prepared({})['x-forwarded-proto'], 'http');
  });
});

describe('responseHeaders', () => {
  it('passes end-to-end headers and drops hop-by-hop and Connection-named ones, leaving the input alone', () => {
    const upstream: IncomingHttpHeaders = {
      'content-type': 'application/json',
      'set-cookie': ['a=1', 'b=2'],
      connection: 'keep-alive, x-hop',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      trailer: 'x-checksum',
      'x-hop': '1',
    };
    const copy = structuredClone(upstream);
    assert.deepEqual(responseHeaders(upstream), { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });
    assert.deepEqual(upstream, copy);
  });
});
