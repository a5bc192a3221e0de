import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from './harness';
import { closedPort, HttpResponse, request } from '../support/http-client';
import { waitUntil } from '../support/wait';

/**
 * GET/HEAD /healthz (contract.md, "Public port"): 200 when signing keys are held and the OpenFaaS
 * gateway's /healthz answers; 503 with a reason otherwise. The upstream probe is cached for 1 s,
 * so state changes are awaited with waitUntil rather than fixed sleeps.
 */

const healthz = (h: Harness, method = 'GET', headers: Record<string, string> = {}): Promise<HttpResponse> =>
  request(`${h.url}/healthz`, { method, headers });

/** Polls /healthz until it answers `status`, returning that response. */
async function healthzBecomes(h: Harness, status: number, method = 'GET'): Promise<HttpResponse> {
  let last: HttpResponse | undefined;
  return waitUntil(
    async () => {
      last = await healthz(h, method);
      return last.status === status ? last : undefined;
    },
    4000,
    { intervalMs: 50, message: `/healthz (${method}) never answered ${status}; last ${last?.status} ${last?.text}` },
  );
}

/** A 503 carries the gateway's JSON error with a reason; returns the reason. */
function assertNotReady(res: HttpResponse): string {
  assert.equal(res.status, 503, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.error_description, 'string');
  assert.ok(body.error_description.length > 0);
  return body.error_description as string;
}

describe('/healthz with keys loaded and OpenFaaS healthy', () => {
  let h: Harness;

  before(async () => {
    h = await Harness.start();
  });
  after(() => h?.close());

  it('GET answers 200 without a token', async () => {
    const res = await healthz(h);
    assert.equal(res.status, 200, res.text);
  });

  it('HEAD answers 200 with no body', async () => {
    const res = await healthz(h, 'HEAD');
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
  });

  it('GET answers 200 to faas-cli ready, which may send its token', async () => {
    const res = await healthz(h, 'GET', { 'User-Agent': 'faas-cli/0.17.1', Authorization: `Bearer ${await h.token()}` });
    assert.equal(res.status, 200, res.text);
  });

  it("the gateway probes OpenFaaS's /healthz", async () => {
    h.openfaas.clearRequests();
    // The probe result is cached for 1 s: poll until a fresh probe has been made.
    await waitUntil(async () => (await healthz(h)).status === 200 && h.openfaas.requests.length > 0, 3000, { intervalMs: 100 });
    for (const rec of h.openfaas.requests) {
      assert.equal(rec.url, '/healthz');
      assert.ok(rec.method === 'GET' || rec.method === 'HEAD', rec.method);
    }
  });

  it("503 with a reason naming OpenFaaS while OpenFaaS's /healthz is unhealthy, for GET and HEAD", async () => {
    h.openfaas.setHealthy(false);
    try {
      const reason = assertNotReady(await healthzBecomes(h, 503));
      assert.match(reason, /OpenFaaS/i);
      assert.match(reason, /503/, 'the reason should say what OpenFaaS answered');
      const head = await healthzBecomes(h, 503, 'HEAD');
      assert.equal(head.body.length, 0);
    } finally {
      h.openfaas.setHealthy(true);
    }
  });

  it('back to 200 once OpenFaaS is healthy again', async () => {
    await healthzBecomes(h, 200);
  });

  it('keys held from before an IdP outage still count: 200 while the IdP is down', async () => {
    await h.idp.close();
    // A refresh now fails; the keys already held stay.
    await assert.rejects(h.keys.refresh());
    assert.equal(h.keys.ready, true);
    assert.ok(h.keys.status().lastError, 'the failed refresh should be recorded');
    const res = await healthz(h);
    assert.equal(res.status, 200, res.text);
    // And after a fresh OpenFaaS probe (the probe is cached for 1 s), still 200.
    h.openfaas.clearRequests();
    const fresh = await waitUntil(
      async () => {
        const r = await healthz(h);
        return h.openfaas.requests.length > 0 ? r : undefined;
      },
      3000,
      { intervalMs: 100, message: 'no fresh probe of OpenFaaS within 3 s' },
    );
    assert.equal(fresh.status, 200, fresh.text);
  });
});

describe('/healthz with OpenFaaS unreachable', () => {
  let h: Harness;

  before(async () => {
    h = await Harness.start({ env: { gateway_url: `http://127.0.0.1:${await closedPort()}` } });
  });
  after(() => h?.close());

  it('GET answers 503 with a reason saying OpenFaaS cannot be reached', async () => {
    const reason = assertNotReady(await healthz(h));
    assert.match(reason, /OpenFaaS/i);
    assert.match(reason, /reach|ECONNREFUSED|connect/i);
    assert.doesNotMatch(reason, /signing keys/, 'keys are held: only OpenFaaS is at fault');
  });

  it('HEAD answers 503 with no body', async () => {
    const res = await healthz(h, 'HEAD');
    assert.equal(res.status, 503);
    assert.equal(res.body.length, 0);
  });

  it('the metrics port still answers /livez 200 (liveness does not depend on OpenFaaS)', async () => {
    const res = await request(`http://127.0.0.1:${h.gateway.metricsPort}/livez`);
    assert.equal(res.status, 200);
  });
});

describe('/healthz before signing keys are loaded (IdP unreachable from the start)', () => {
  let h: Harness;

  before(async () => {
    h = await Harness.start({ issuer: `http://127.0.0.1:${await closedPort()}`, noWaitForKeys: true });
  });
  after(() => h?.close());

  it('GET answers 503 with a reason naming the signing keys', async () => {
    assert.equal(h.keys.ready, false);
    const reason = assertNotReady(await healthz(h));
    assert.match(reason, /signing keys/i);
    assert.doesNotMatch(reason, /OpenFaaS/, 'OpenFaaS is healthy: only the keys are missing');
  });

  it('HEAD answers 503 with no body', async () => {
    const res = await healthz(h, 'HEAD');
    assert.equal(res.status, 503);
    assert.equal(res.body.length, 0);
  });

  it('still 503 when OpenFaaS becomes unhealthy too, naming both reasons', async () => {
    h.openfaas.setHealthy(false);
    try {
      const reason = assertNotReady(
        await waitUntil(
          async () => {
            const res = await healthz(h);
            return /OpenFaaS/i.test(res.text) ? res : undefined;
          },
          4000,
          { intervalMs: 50 },
        ),
      );
      assert.match(reason, /signing keys/i);
      assert.match(reason, /OpenFaaS/i);
    } finally {
      h.openfaas.setHealthy(true);
    }
  });

  it('the metrics port answers /livez 200 and /metrics 200 (liveness does not depend on the IdP)', async () => {
    assert.equal((await request(`http://127.0.0.1:${h.gateway.metricsPort}/livez`)).status, 200);
    assert.equal((await request(`http://127.0.0.1:${h.gateway.metricsPort}/metrics`)).status, 200);
  });
});

describe('metrics port', () => {
  let h: Harness;

  before(async () => {
    h = await Harness.start();
  });
  after(() => h?.close());

  it('is a separate listener from the public port', () => {
    assert.notEqual(h.gateway.metricsPort, h.gateway.port);
  });

  it('GET /livez answers 200', async () => {
    const res = await request(`http://127.0.0.1:${h.gateway.metricsPort}/livez`);
    assert.equal(res.status, 200);
  });

  it('GET /metrics answers 200 in the Prometheus text format', async () => {
    const res = await request(`http://127.0.0.1:${h.gateway.metricsPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(res.text, /^# (HELP|TYPE) \w+/m);
  });

  it('/metrics is not served on the public port', async () => {
    const res = await request(`${h.url}/metrics`);
    assert.equal(res.status, 404);
  });
});
