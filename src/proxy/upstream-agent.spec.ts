import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Agent as HttpAgent, request as httpRequest, IncomingMessage } from 'node:http';
import { LoopbackServer } from '../../test/support/loopback-server';
import { closedPort } from '../../test/support/http-client';
import { connectionOptions, upstreamAgent } from './upstream-agent';

describe('connectionOptions', () => {
  it('takes host and port from gateway_url, with the scheme default port, and SNI only for names', () => {
    const cases: Array<[string, { host: string; port: number; servername: string }]> = [
      ['http://127.0.0.1:8080', { host: '127.0.0.1', port: 8080, servername: '' }],
      ['http://gateway.openfaas:8080/', { host: 'gateway.openfaas', port: 8080, servername: 'gateway.openfaas' }],
      ['http://gateway.openfaas', { host: 'gateway.openfaas', port: 80, servername: 'gateway.openfaas' }],
      ['https://openfaas.example.com', { host: 'openfaas.example.com', port: 443, servername: 'openfaas.example.com' }],
      ['https://openfaas.example.com:8443/prefix', { host: 'openfaas.example.com', port: 8443, servername: 'openfaas.example.com' }],
      ['http://[::1]:8080', { host: '::1', port: 8080, servername: '' }],
      ['https://[fd00::12]', { host: 'fd00::12', port: 443, servername: '' }],
    ];
    for (const [url, expected] of cases) assert.deepEqual({ ...connectionOptions(new URL(url)) }, expected, url);
  });
});

describe('upstreamAgent', () => {
  it("keeps node's own agent settings, still without a prototype (nothing on Object.prototype can set them)", () => {
    const agent = upstreamAgent(new URL('http://127.0.0.1:8080')) as HttpAgent & { options: object };
    const plain = new HttpAgent({ keepAlive: true, keepAliveMsecs: 15_000 }) as HttpAgent & { options: object };
    try {
      assert.equal(Object.getPrototypeOf(agent.options), null);
      assert.deepEqual({ ...agent.options }, { ...plain.options });
      assert.deepEqual({ ...agent.options }, { keepAlive: true, keepAliveMsecs: 15_000, noDelay: true, path: null });
    } finally {
      agent.destroy();
      plain.destroy();
    }
  });

  it("holds its own options in V8's fast mode, which the pool copies on every request (node's own: dictionary mode)", () => {
    // %HasFastProperties needs V8's natives syntax, so a child node asks it of this very module.
    const script = `const { upstreamAgent } = require(${JSON.stringify(require.resolve('./upstream-agent'))});
      const http = require('node:http');
      const ours = upstreamAgent(new URL('http://127.0.0.1:8080'));
      const plain = new http.Agent({ keepAlive: true });
      console.log(JSON.stringify({ ours: %HasFastProperties(ours.options), plain: %HasFastProperties(plain.options) }));
      ours.destroy(); plain.destroy();`;
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { ours: true, plain: false });
  });
});

interface Seen {
  method: string | undefined;
  url: string | undefined;
  header: string | string[] | undefined;
  remotePort: number | undefined;
}

describe('upstreamAgent, against a real server', () => {
  let server: LoopbackServer;
  const seen: Seen[] = [];

  before(async () => {
    server = await LoopbackServer.start((req, res) => {
      seen.push({ method: req.method, url: req.url, header: req.headers['x-probe'], remotePort: req.socket.remotePort });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  after(() => server.close());

  /** One request through `agent`, with these request options; resolves with the status. */
  function send(agent: ReturnType<typeof upstreamAgent>, options: { host: string; port: number; method: string; path: string; probe: string }): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ agent, host: options.host, port: options.port, method: options.method, path: options.path, headers: { 'x-probe': options.probe } }, (res: IncomingMessage) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  }

  let agent: ReturnType<typeof upstreamAgent>;
  beforeEach(() => {
    seen.length = 0;
    agent = upstreamAgent(new URL(server.url));
  });
  afterEach(() => agent.destroy());

  it("keeps each request's own method, path and headers, and reuses one connection for requests in a row", async () => {
    const calls = [
      { method: 'GET', path: '/system/functions?namespace=a', probe: 'one' },
      { method: 'POST', path: '/function/echo', probe: 'two' },
      { method: 'DELETE', path: '/system/secrets', probe: 'three' },
    ];
    for (const call of calls) assert.equal(await send(agent, { host: '127.0.0.1', port: server.port, ...call }), 200);
    assert.deepEqual(
      seen.map(({ method, url, header }) => ({ method, url, header })),
      calls.map((call) => ({ method: call.method, url: call.path, header: call.probe })),
    );
    assert.equal(new Set(seen.map((s) => s.remotePort)).size, 1, 'one kept-alive connection for all three');
  });

  it('opens a second connection for a request made while the first is busy, and pools both', async () => {
    const both = await Promise.all([1, 2].map((n) => send(agent, { host: '127.0.0.1', port: server.port, method: 'GET', path: `/system/info?n=${n}`, probe: String(n) })));
    assert.deepEqual(both, [200, 200]);
    assert.equal(new Set(seen.map((s) => s.remotePort)).size, 2);
    await new Promise((resolve) => setImmediate(resolve));
    const free = Object.values(agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);
    assert.equal(free, 2, 'both connections kept for reuse');
  });

  it('connects to gateway_url only: the agent serves the OpenFaaS gateway and nothing else', async () => {
    // Request options naming a closed port still reach gateway_url's server.
    assert.equal(await send(agent, { host: '127.0.0.1', port: await closedPort(), method: 'GET', path: '/system/info', probe: 'elsewhere' }), 200);
    assert.deepEqual(
      seen.map((s) => s.header),
      ['elsewhere'],
    );
  });
});
