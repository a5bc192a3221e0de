import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { Socket } from 'node:net';
import { rawHttp, request } from '../support/http-client';
import { sleep, waitUntil } from '../support/wait';
import { Harness } from './harness';

/**
 * write_timeout bounds the idle time of a connection while Nest works on an answer (/graphql,
 * /healthz); it is no idle limit on proxied requests, which upstream_timeout bounds instead
 * (the 504 itself is proved in passthrough and proxy-upstream-failures). Real gateway, IdP and
 * OpenFaaS stand-in; raw sockets where the caller must misbehave.
 */

/** GET on a kept-alive agent; resolves with the status, the body and the socket it came over. */
function viaAgent(agent: http.Agent, url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers }, (res) => {
      const socket = res.socket as Socket;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), socket }));
      res.on('error', reject);
    });
    req.setTimeout(8000, () => req.destroy(new Error(`no answer from ${url} within 8 s`)));
    req.on('error', reject);
  });
}

describe('write_timeout=1s, upstream_timeout=3s: proxied calls are bounded by upstream_timeout, not by write_timeout', () => {
  const UPSTREAM_DELAY_MS = 1500;
  let h: Harness;
  let authorization: string;
  before(async () => {
    h = await Harness.start({ env: { write_timeout: '1s', upstream_timeout: '3s' } });
    authorization = `Bearer ${await h.token()}`;
  });
  after(() => h?.close());

  it('a /system call whose upstream answers after 1.5 s (longer than write_timeout) gets its 200 and body', async () => {
    h.openfaas.setResponseDelay(UPSTREAM_DELAY_MS);
    try {
      const started = performance.now();
      const res = await request(`${h.url}/system/functions`, { headers: { authorization }, timeoutMs: 8000 });
      const took = performance.now() - started;
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json().map((f: { name: string }) => f.name).sort(), ['echo', 'nodeinfo']);
      assert.ok(took >= UPSTREAM_DELAY_MS - 50, `answered after ${took.toFixed(0)} ms: the delay did not apply`);
    } finally {
      h.openfaas.setResponseDelay(0);
    }
  });

  it('the same on a kept-alive connection that Nest served first (its idle limit does not carry over)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const health = await viaAgent(agent, `${h.url}/healthz`);
      assert.equal(health.status, 200, health.text);
      h.openfaas.setResponseDelay(UPSTREAM_DELAY_MS);
      const slow = await viaAgent(agent, `${h.url}/system/functions`, { authorization });
      assert.equal(slow.status, 200, slow.text);
      assert.equal(slow.socket, health.socket, 'both requests went over one connection');
    } finally {
      h.openfaas.setResponseDelay(0);
      agent.destroy();
    }
  });
});

describe('write_timeout=500ms, read_timeout=10s: a request Nest serves may idle for write_timeout', () => {
  let h: Harness;
  let token: string;
  before(async () => {
    h = await Harness.start({ env: { write_timeout: '500ms', read_timeout: '10s' } });
    token = await h.token();
  });
  after(() => h?.close());

  it('a GraphQL POST whose declared body never comes is closed after about write_timeout, and the gateway stays healthy', async () => {
    const head =
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${h.gateway.port}\r\nAuthorization: Bearer ${token}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    const started = performance.now();
    // rawHttp resolves when the gateway closes the connection, or gives up after timeoutMs.
    const received = await rawHttp('127.0.0.1', h.gateway.port, head, { timeoutMs: 8000 });
    const took = performance.now() - started;
    assert.ok(took >= 400, `closed after ${took.toFixed(0)} ms, before write_timeout`);
    assert.ok(took < 3000, `closed after ${took.toFixed(0)} ms: not by write_timeout (500 ms)`);
    assert.doesNotMatch(received, /^HTTP\/1\.1 2\d\d/, 'no success for a request whose body never came');
    const health = await request(`${h.url}/healthz`);
    assert.equal(health.status, 200, health.text);
    const graphql = await request(`${h.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    assert.equal(graphql.status, 200, graphql.text);
  });

  for (const order of ['after', 'before'] as const) {
    it(
      `a followed log pipelined ${order} a request Nest answers, on one connection, outlives write_timeout`,
      // The Nest request's idle limit (write_timeout) must not stay armed for the proxied stream
      // pipelined on the same connection.
      async () => {
        await waitUntil(() => h.openfaas.activeLogStreams === 0, 2000);
        const health = 'GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n';
        const logs = `GET /system/logs?follow=true&name=echo&since=${new Date().toISOString()} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\n\r\n`;
        const socket = net.connect(h.gateway.port, '127.0.0.1');
        let received = '';
        let closedAt: number | undefined;
        socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
        socket.on('close', () => (closedAt = performance.now()));
        socket.on('error', () => undefined);
        try {
          await new Promise((resolve) => socket.once('connect', resolve));
          const started = performance.now();
          socket.write(order === 'after' ? health + logs : logs + health);
          await waitUntil(() => h.openfaas.activeLogStreams === 1, 2000, { message: 'the log stream never reached OpenFaaS' });
          // An idle gap twice write_timeout: nothing to wait for but time.
          await sleep(1000);
          const text = `pipelined ${order} ${Date.now()}`;
          h.openfaas.emitLog('echo', text);
          await waitUntil(() => received.includes(text) || closedAt !== undefined, 2000);
          assert.equal(closedAt, undefined, `the connection was closed ${((closedAt ?? 0) - started).toFixed(0)} ms after the requests`);
          assert.ok(received.includes(text), 'the log line after the idle gap arrived');
        } finally {
          socket.destroy();
        }
      },
    );
  }
});
