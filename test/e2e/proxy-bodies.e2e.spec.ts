import 'reflect-metadata';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http, { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { RecordedRequest } from '../support/openfaas-stand-in';
import { sleep, waitUntil } from '../support/wait';
import { Harness } from './harness';

/**
 * Request bodies that are absent or empty, and a large response body to a slow reader, through
 * the real gateway to the recording OpenFaaS stand-in: what framing leaves the gateway, that a
 * kept-alive connection goes on serving after each, and that back-pressure reaches OpenFaaS.
 */

interface Answer {
  status: number;
  body: Buffer;
  socket: Socket;
}

/** A request over `agent` (node:http adds no framing of its own to a GET or DELETE without a body); `framing` is set verbatim. */
function send(agent: http.Agent, url: string, opts: { method: string; authorization: string; framing?: Record<string, string>; body?: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method, agent, headers: { authorization: opts.authorization, ...opts.framing } });
    req.setTimeout(5000, () => req.destroy(new Error(`${opts.method} ${url}: no answer within 5 s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const socket = res.socket as Socket;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), socket }));
    });
    req.end(opts.body);
  });
}

/** The framing headers as OpenFaaS received them on the wire. */
function framingOf(rec: RecordedRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < rec.rawHeaders.length; i += 2) {
    const name = (rec.rawHeaders[i] as string).toLowerCase();
    if (name === 'content-length' || name === 'transfer-encoding') out[name] = rec.rawHeaders[i + 1] as string;
  }
  return out;
}

describe('proxy: bodies that are absent, empty or large', () => {
  let h: Harness;
  let authorization: string;
  let agent: http.Agent;
  before(async () => {
    h = await Harness.start({ env: { allow_invoke: 'true' } });
    authorization = `Bearer ${await h.token()}`;
  });
  after(async () => {
    agent?.destroy();
    await h?.close();
  });
  beforeEach(() => {
    agent?.destroy();
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    h.openfaas.clearRequests();
    h.openfaas.clearOverrides();
  });

  /** Waits until OpenFaaS has received `n` requests whole, and returns them. */
  async function received(n: number): Promise<RecordedRequest[]> {
    await waitUntil(() => h.openfaas.requests.length >= n && h.openfaas.requests.every((r) => r.complete), 3000, {
      message: `OpenFaaS received ${h.openfaas.requests.length} of ${n} requests`,
    });
    assert.equal(h.openfaas.requests.length, n);
    return h.openfaas.requests;
  }

  it('GET and DELETE without a body reach OpenFaaS as bodyless (a DELETE with Content-Length: 0, as http-proxy frames it), and the connection serves on', async () => {
    const answers: Answer[] = [];
    for (const [method, path] of [
      ['GET', '/function/echo'],
      ['DELETE', '/function/echo'],
      ['GET', '/system/functions'],
      ['DELETE', '/function/echo?again=1'],
    ] as const) {
      const answer = await send(agent, `${h.url}${path}`, { method, authorization });
      assert.equal(answer.status, 200, `${method} ${path}: ${answer.body.toString()}`);
      answers.push(answer);
    }
    const recs = await received(4);
    for (const rec of recs) {
      const label = `${rec.method} ${rec.url}`;
      // http-proxy's deleteLength pass gives a DELETE without a body Content-Length: 0 (node-http-proxy #1343): still no body.
      const expected = rec.method === 'DELETE' ? { 'content-length': '0' } : {};
      assert.deepEqual(framingOf(rec), expected, `${label}: no body framed for a request without a body`);
      assert.equal(rec.body.length, 0, label);
      assert.ok(rec.complete && !rec.aborted, `${label}: received whole`);
    }
    assert.deepEqual(JSON.parse(answers[2]!.body.toString()).map((f: { name: string }) => f.name).sort(), ['echo', 'nodeinfo'], 'the request after two bodyless ones was answered in full');
    assert.equal(new Set(answers.map((a) => a.socket)).size, 1, 'all four went over one kept-alive connection');
  });

  it('a POST with Content-Length: 0 and a chunked POST with an empty body reach OpenFaaS framed as sent; a body after them arrives whole', async () => {
    const zero = await send(agent, `${h.url}/function/echo`, { method: 'POST', authorization, framing: { 'content-length': '0' } });
    const chunked = await send(agent, `${h.url}/function/echo`, { method: 'POST', authorization, framing: { 'transfer-encoding': 'chunked' } });
    const withBody = await send(agent, `${h.url}/function/echo`, { method: 'POST', authorization, framing: { 'content-length': '5' }, body: 'hello' });
    assert.deepEqual([zero, chunked, withBody].map((a) => a.status), [200, 200, 200]);
    assert.deepEqual([zero, chunked].map((a) => a.body.length), [0, 0]);
    assert.equal(withBody.body.toString(), 'hello');
    const [a, b, c] = await received(3);
    assert.deepEqual(framingOf(a!), { 'content-length': '0' });
    assert.deepEqual(framingOf(b!), { 'transfer-encoding': 'chunked' });
    assert.deepEqual(framingOf(c!), { 'content-length': '5' });
    assert.deepEqual([a!, b!, c!].map((r) => r.body.toString()), ['', '', 'hello']);
    assert.ok([a!, b!, c!].every((r) => r.complete && !r.aborted));
    assert.equal(new Set([zero, chunked, withBody].map((a) => a.socket)).size, 1, 'one kept-alive connection');
  });

  it('a 32 MiB response to a caller that stops reading: OpenFaaS is held back, and the caller, reading slowly, gets every byte', async () => {
    const total = 32 * 1024 * 1024;
    const body = randomBytes(total);
    const upstream = { written: 0, waitingForDrain: false };
    h.openfaas.override('GET', '/function/big', (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
      const pump = () => {
        upstream.waitingForDrain = false;
        while (upstream.written < total) {
          const chunk = body.subarray(upstream.written, upstream.written + 64 * 1024);
          upstream.written += chunk.length;
          if (!res.write(chunk)) {
            upstream.waitingForDrain = true;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      http.get(`${h.url}/function/big`, { agent: false, headers: { authorization } }, resolve).on('error', reject);
    });
    try {
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-length'], String(total));
      res.pause();
      await waitUntil(() => upstream.waitingForDrain, 5000, { message: 'OpenFaaS was never held back by the paused caller' });
      // Nothing to wait for but time: a gateway that ignores back-pressure reads on to the end at once.
      await sleep(250);
      assert.ok(upstream.written < total, `OpenFaaS sent all ${total} bytes while the caller read none: the gateway buffered them`);

      const chunks: Buffer[] = [];
      let n = 0;
      await new Promise<void>((resolve, reject) => {
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          // A slow reader: a pause every few chunks.
          if (++n % 8 === 0) {
            res.pause();
            setTimeout(() => res.resume(), 1);
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
        res.on('close', () => (res.complete ? resolve() : reject(new Error('the response was cut'))));
        res.resume();
      });
      const got = Buffer.concat(chunks);
      assert.equal(got.length, total);
      assert.ok(got.equals(body), 'the body arrived altered');
      assert.equal(upstream.written, total);
    } finally {
      res.destroy();
    }
  });
});
