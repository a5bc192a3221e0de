import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closedPort, openStream, request } from '../support/http-client';
import { sleep, waitUntil } from '../support/wait';
import { ProxyService } from '../../src/proxy/proxy.service';
import { ADMIN_PASSWORD, ADMIN_USER, Harness } from './harness';

async function assertServes(h: Harness, authorization: string): Promise<void> {
  const res = await request(`${h.url}/function/echo`, { method: 'POST', headers: { authorization }, body: 'alive' });
  assert.equal(res.status, 200, 'the gateway must keep serving');
  assert.equal(res.text, 'alive');
}

function assertJsonError(res: { headers: Record<string, unknown>; text: string; json(): { error: string } }, code: string): void {
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.json().error, code);
  assert.ok(!res.text.includes(ADMIN_PASSWORD));
}

describe('proxy: OpenFaaS down', () => {
  let h: Harness;
  let authorization: string;

  before(async () => {
    h = await Harness.start({ env: { allow_invoke: 'true', gateway_url: `http://127.0.0.1:${await closedPort()}` } });
    authorization = `Bearer ${await h.token()}`;
  });
  after(() => h?.close());

  it('answers 502 with a JSON body at once, for reads, uploads and invocations alike', async () => {
    for (const [method, path, body] of [
      ['GET', '/system/functions', undefined],
      ['POST', '/system/functions', '{"service":"x","image":"y"}'],
      ['POST', '/function/echo', Buffer.alloc(256 * 1024)],
    ] as const) {
      const started = Date.now();
      const res = await request(`${h.url}${path}`, { method, headers: { authorization }, body, timeoutMs: 3000 });
      assert.equal(res.status, 502, `${method} ${path}`);
      assertJsonError(res, 'upstream_unavailable');
      assert.ok(Date.now() - started < 2000);
    }
  });

  it('200 concurrent calls all get 502; the process stays up and holds no upstream socket', async () => {
    const all = await Promise.all(Array.from({ length: 200 }, () => request(`${h.url}/system/functions`, { headers: { authorization }, timeoutMs: 5000 })));
    assert.deepEqual([...new Set(all.map((r) => r.status))], [502]);
    assert.deepEqual(h.gateway.app.get(ProxyService).upstreamSockets(), { active: 0, idle: 0 });
    const health = await request(`${h.url}/healthz`);
    assert.equal(health.status, 503, 'healthz answers (and says OpenFaaS is down)');
  });
});

describe('proxy: OpenFaaS slow, resetting or answering nonsense', () => {
  const UPSTREAM_TIMEOUT_MS = 400;
  let h: Harness;
  let authorization: string;

  before(async () => {
    h = await Harness.start({ env: { allow_invoke: 'true', upstream_timeout: `${UPSTREAM_TIMEOUT_MS}ms` } });
    authorization = `Bearer ${await h.token()}`;
  });
  after(() => h?.close());

  it('504 after upstream_timeout when OpenFaaS sends no headers; the upstream request is closed', async () => {
    h.openfaas.setResponseDelay(10_000);
    try {
      for (const [method, body] of [
        ['GET', undefined],
        ['POST', '{"service":"slow","image":"x"}'],
      ] as const) {
        h.openfaas.clearRequests();
        const started = Date.now();
        const res = await request(`${h.url}/system/functions`, { method, headers: { authorization }, body, timeoutMs: 5000 });
        const took = Date.now() - started;
        assert.equal(res.status, 504, method);
        assertJsonError(res, 'upstream_timeout');
        assert.ok(took >= UPSTREAM_TIMEOUT_MS - 20 && took < UPSTREAM_TIMEOUT_MS + 1500, `${method} took ${took}ms`);
        await waitUntil(() => h.openfaas.requests.length === 1 && h.openfaas.requests[0].aborted, 2000, {
          message: 'the timed-out upstream request was left open',
        });
      }
    } finally {
      h.openfaas.setResponseDelay(0);
    }
    await assertServes(h, authorization);
  });

  it('upstream_timeout counts only until the headers: a slow body that started in time is not cut', async () => {
    h.openfaas.override('GET', '/function/slow-body', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let n = 0;
      const timer = setInterval(() => {
        res.write(`line ${++n}\n`);
        if (n === 6) {
          clearInterval(timer);
          res.end();
        }
      }, UPSTREAM_TIMEOUT_MS / 2);
    });
    try {
      const res = await request(`${h.url}/function/slow-body`, { headers: { authorization }, timeoutMs: 5000 });
      assert.equal(res.status, 200);
      assert.equal(res.text.trim().split('\n').length, 6);
    } finally {
      h.openfaas.clearOverrides();
    }
  });

  for (const framing of ['content-length', 'chunked'] as const) {
    it(`OpenFaaS resetting mid-response (${framing}): the caller's response is cut at once, not hung`, async () => {
      h.openfaas.override('GET', '/function/reset', (_req, res) => {
        res.writeHead(200, framing === 'content-length' ? { 'content-length': 1_000_000 } : {});
        res.write('x'.repeat(10_000));
        setTimeout(() => res.socket?.resetAndDestroy(), 50);
      });
      try {
        const stream = await openStream(`${h.url}/function/reset`, { headers: { authorization }, timeoutMs: 3000 });
        assert.equal(stream.status, 200);
        const started = Date.now();
        await assert.rejects(stream.readAll(), /closed before the body ended|aborted|ECONNRESET/);
        assert.ok(Date.now() - started < 2000);
      } finally {
        h.openfaas.clearOverrides();
      }
      await assertServes(h, authorization);
    });
  }

  it('OpenFaaS resetting before any header: 502', async () => {
    h.openfaas.override('GET', '/function/reset-early', (_req, res) => res.socket?.resetAndDestroy());
    try {
      const res = await request(`${h.url}/function/reset-early`, { headers: { authorization }, timeoutMs: 3000 });
      assert.equal(res.status, 502);
      assertJsonError(res, 'upstream_unavailable');
    } finally {
      h.openfaas.clearOverrides();
    }
    await assertServes(h, authorization);
  });

  for (const statusLine of ['099 Low', '000 Zero']) {
    it(`a status code below 100 (${JSON.stringify(statusLine)}) becomes 502 without the upstream headers, and the process lives on`, async () => {
      h.openfaas.override('GET', '/function/odd', (_req, res) => {
        res.socket?.end(`HTTP/1.1 ${statusLine}\r\nContent-Length: 2\r\nX-Leak: upstream\r\nConnection: close\r\n\r\nok`, 'latin1');
      });
      try {
        const res = await request(`${h.url}/function/odd`, { headers: { authorization }, timeoutMs: 3000 });
        assert.equal(res.status, 502);
        assertJsonError(res, 'upstream_error');
        assert.equal(res.headers['x-leak'], undefined, 'no header of the refused response may leak into the 502');
      } finally {
        h.openfaas.clearOverrides();
      }
      await assertServes(h, authorization);
    });
  }

  for (const reason of ['OK\x01', 'OK\x7f', 'Bad\x00Reason']) {
    it(`a reason phrase node:http will not write (${JSON.stringify(reason)}) is left out; status and body are relayed`, async () => {
      h.openfaas.override('GET', '/function/odd', (_req, res) => {
        res.socket?.end(`HTTP/1.1 200 ${reason}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`, 'latin1');
      });
      try {
        const stream = await openStream(`${h.url}/function/odd`, { headers: { authorization }, timeoutMs: 3000 });
        assert.equal(stream.status, 200);
        assert.equal(stream.response.statusMessage, 'OK');
        assert.equal((await stream.readAll()).toString(), 'ok');
      } finally {
        h.openfaas.clearOverrides();
      }
      await assertServes(h, authorization);
    });
  }

  it('OpenFaaS refusing the admin credentials: 502 that neither passes on its Basic challenge nor the password', async () => {
    h.openfaas.setCredentials(ADMIN_USER, 'rotated-elsewhere');
    try {
      const res = await request(`${h.url}/system/functions`, { headers: { authorization } });
      assert.equal(res.status, 502);
      assertJsonError(res, 'upstream_error');
      assert.equal(res.headers['www-authenticate'], undefined);
    } finally {
      h.openfaas.setCredentials(ADMIN_USER, ADMIN_PASSWORD);
    }
  });

  it('after all of it no upstream socket is held by a finished exchange', async () => {
    await sleep(50);
    await waitUntil(() => h.gateway.app.get(ProxyService).upstreamSockets().active === 0, 2000);
    await assertServes(h, authorization);
  });
});
