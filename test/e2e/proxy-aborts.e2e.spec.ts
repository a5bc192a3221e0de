import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http, { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { ProxyService } from '../../src/proxy/proxy.service';
import { request } from '../support/http-client';
import { liveHeapBytes, MiB } from '../support/memory';
import { waitUntil } from '../support/wait';
import { Harness } from './harness';

const BATCH = 50;
const UPLOAD_BYTES = 1024 * 1024;
const FIRST_PART = Buffer.alloc(64 * 1024, 0x61);
const CHUNK = Buffer.alloc(16 * 1024, 0x62);
/** Live heap the process may gain over 1,000 aborts once warm; a leak of the aborted exchanges is far more. */
const HEAP_SLACK = 8 * MiB;

type Starter = (url: string, authorization: string) => Promise<ClientRequest>;

/** Opens an upload of UPLOAD_BYTES and sends only its first 64 KiB; resolves once those are written. */
const upload =
  (opts: { expect?: boolean } = {}): Starter =>
  (url, authorization) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { authorization, 'content-length': UPLOAD_BYTES };
      if (opts.expect) headers.expect = '100-continue';
      const req = http.request(url, { method: 'POST', agent: false, headers });
      req.on('error', () => undefined);
      req.on('response', (res) => res.resume());
      const send = () => req.write(FIRST_PART, () => resolve(req));
      if (opts.expect) req.once('continue', send);
      else send();
      req.once('close', () => reject(new Error('closed before the upload started')));
    });

/** Sends a small body only after 100 Continue, and resolves once it is on the wire. */
const expectThenBody: Starter = (url, authorization) =>
  new Promise((resolve) => {
    const body = Buffer.from('{"small":"body"}');
    const headers = { authorization, expect: '100-continue', 'content-length': body.length };
    const req = http.request(url, { method: 'POST', agent: false, headers });
    req.on('error', () => undefined);
    req.once('continue', () => req.end(body, () => resolve(req)));
  });

/** Sends a request and resolves once it is on the wire (its response may never come). */
const sent =
  (method: string, body?: Buffer): Starter =>
  (url, authorization) =>
    new Promise((resolve) => {
      const headers: Record<string, string | number> = { authorization };
      if (body) headers['content-length'] = body.length;
      const req = http.request(url, { method, agent: false, headers });
      req.on('error', () => undefined);
      req.end(body, () => resolve(req));
    });

/** Starts a download and resolves once the first body bytes arrived. */
const download: Starter = (url, authorization) =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, headers: { authorization } });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      res.once('data', () => {
        res.pause();
        req.removeListener('error', reject);
        req.on('error', () => undefined);
        resolve(req);
      });
    });
    req.end();
  });

/** Answers with an endless body at a modest pace (a log, a slow export) until the connection goes. */
function trickle(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  res.write(CHUNK);
  const timer = setInterval(() => res.write(CHUNK), 20);
  res.once('close', () => clearInterval(timer));
}

/** Answers with an endless body, as fast as the gateway takes it, until the connection goes. */
function firehose(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  const pump = () => {
    while (!res.destroyed && res.write(CHUNK));
    if (!res.destroyed) res.once('drain', pump);
  };
  pump();
}

describe('proxy: client aborts free the upstream request', () => {
  let h: Harness;
  let authorization: string;
  let proxy: ProxyService;

  before(async () => {
    h = await Harness.start({ env: { allow_invoke: 'true', upstream_timeout: '60s' } });
    authorization = `Bearer ${await h.token()}`;
    proxy = h.gateway.app.get(ProxyService);
    h.openfaas.override('POST', '/function/sink', (req) => req.resume()); // reads the body, never answers
    h.openfaas.override('*', '/function/silent', () => undefined); // never answers
    h.openfaas.override('GET', '/function/trickle', trickle);
    h.openfaas.override('GET', '/function/firehose', firehose);
    const warm = await request(`${h.url}/function/echo`, { method: 'POST', headers: { authorization }, body: 'warm' });
    assert.equal(warm.status, 200);
  });
  after(() => h?.close());

  /**
   * `total` exchanges in batches: each batch is started, seen arriving at OpenFaaS, then aborted by
   * the client; then every one of them must be seen closed by OpenFaaS.
   */
  async function abortMany(total: number, path: string, start: Starter): Promise<void> {
    for (let done = 0; done < total; done += BATCH) {
      h.openfaas.clearRequests();
      const clients = await Promise.all(Array.from({ length: BATCH }, () => start(`${h.url}${path}`, authorization)));
      await h.openfaas.waitForRequests(BATCH);
      for (const client of clients) client.destroy();
      await waitUntil(() => h.openfaas.requests.every((r) => r.aborted), 5000, {
        message: `OpenFaaS still holds ${h.openfaas.requests.filter((r) => !r.aborted).length} of ${BATCH} aborted requests open`,
      });
    }
    h.openfaas.clearRequests();
  }

  /** No upstream socket is left in use, and OpenFaaS holds no connection but the pooled idle ones. */
  async function assertNothingHeld(): Promise<void> {
    await waitUntil(
      () => proxy.upstreamSockets().active === 0 && h.openfaas.openSockets() <= proxy.upstreamSockets().idle,
      5000,
      { message: `upstream sockets left: ${JSON.stringify(proxy.upstreamSockets())}, open at OpenFaaS: ${h.openfaas.openSockets()}` },
    );
    const callers = await new Promise<number>((resolve) => h.gateway.server.getConnections((_err, n) => resolve(n)));
    assert.equal(callers, 0, 'caller connections left open at the gateway');
  }

  async function assertAbortsFreeEverything(path: string, start: Starter): Promise<void> {
    await abortMany(2 * BATCH, path, start); // warm-up: lazily built code paths and pools
    const heapBefore = liveHeapBytes();
    await abortMany(1000, path, start);
    await assertNothingHeld();
    const grown = liveHeapBytes() - heapBefore;
    assert.ok(grown < HEAP_SLACK, `live heap grew by ${(grown / MiB).toFixed(1)} MiB over 1,000 aborts`);
  }

  it('1,000 aborts mid-upload: each upstream request is closed, no socket or memory stays behind', async () => {
    await assertAbortsFreeEverything('/function/sink', upload());
  });

  it('1,000 aborts mid-download: each upstream response is closed, no socket or memory stays behind', async () => {
    await assertAbortsFreeEverything('/function/trickle', download);
  });

  it('aborts mid-download while the gateway is back-pressured by the caller free the upstream response', async () => {
    await abortMany(100, '/function/firehose', download);
    await assertNothingHeld();
  });

  it('aborts while OpenFaaS holds the response headers (body complete, so no "aborted" event) free the upstream request', async () => {
    await abortMany(300, '/function/silent', sent('GET'));
    await abortMany(300, '/function/silent', sent('POST', Buffer.from('{"small":"body"}')));
    await assertNothingHeld();
  });

  it('aborts of Expect: 100-continue requests free the upstream request (http-proxy skips proxyReq for them)', async () => {
    await abortMany(300, '/function/sink', upload({ expect: true }));
    await abortMany(300, '/function/silent', expectThenBody);
    await assertNothingHeld();
  });

  it('the gateway serves normally after all of it', async () => {
    const res = await request(`${h.url}/function/echo`, { method: 'POST', headers: { authorization }, body: 'still here' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'still here');
  });
});
