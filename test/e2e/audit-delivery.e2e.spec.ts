import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import http, { ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { forgeCallerToken } from '../support/auth-fixtures';
import { closedPort, request } from '../support/http-client';
import { LoopbackServer, readBody } from '../support/loopback-server';
import { RecordedRequest } from '../support/openfaas-stand-in';
import { waitUntil } from '../support/wait';
import { Audited, auditEvents, Call, claimsOf, Json, newId, send, settled, startAudited } from './audited-gateway';

/**
 * The audit trail under stress: calls the caller abandons, a webhook that fails or cannot be
 * reached, a webhook so slow that the bounded queue overflows, and a webhook key rotated the way
 * Kubernetes rotates a mounted secret. Whatever the webhook does, callers are answered as usual,
 * every event is in the log, and what was not delivered is counted in
 * gateway_audit_webhook_dropped_total.
 */

/** The gateway's fixed queue bound (MAX_QUEUE in audit.service.ts; not configurable). */
const QUEUE_BOUND = 1000;
const KEY_FILE = 'audit-webhook-key';

function eventsOf(g: Audited, id: string): Json[] {
  return auditEvents(g).filter((e) => e.requestId === id);
}

function sign(key: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

async function droppedTotal(g: Audited): Promise<number> {
  const res = await request(`${g.metricsUrl}/metrics`);
  assert.equal(res.status, 200, res.text);
  const match = /^gateway_audit_webhook_dropped_total (\S+)$/m.exec(res.text);
  assert.ok(match, 'gateway_audit_webhook_dropped_total is not exported');
  return Number(match[1]);
}

async function waitForDropped(g: Audited, expected: number): Promise<void> {
  let seen = -1;
  await waitUntil(async () => (seen = await droppedTotal(g)) >= expected, 5000, { intervalMs: 20 }).catch(() => undefined);
  assert.equal(seen, expected, 'gateway_audit_webhook_dropped_total');
}

function deliveryFailures(g: Audited): Json[] {
  return g.lines.map((line) => JSON.parse(line) as Json).filter((r) => /audit webhook delivery failed/.test(String(r.msg)));
}

// ---------------------------------------------------------------------------------------------
// The webhook receiver: records every delivery, answers each with a status of the test's choosing,
// or holds it (reads the body, answers nothing) until released.

interface Delivery {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly event: Json;
}

class Webhook {
  readonly deliveries: Delivery[] = [];
  private readonly held: ServerResponse[] = [];
  /** What to answer delivery number `n` (0-based): a status, or 'hold'. */
  answer: (n: number) => number | 'hold' = () => 204;
  /** The Location sent with a 3xx answer. */
  location: string | undefined;
  /** Held deliveries that the gateway gave up (closed the connection) before they were answered. */
  givenUp = 0;

  private constructor(readonly server: LoopbackServer) {}

  static async start(): Promise<Webhook> {
    let self: Webhook | undefined;
    const server = await LoopbackServer.start(async (req, res) => {
      const webhook = self as Webhook;
      const body = await readBody(req);
      const n = webhook.deliveries.length;
      webhook.deliveries.push({ headers: req.headers, body, event: JSON.parse(body.toString('utf8')) as Json });
      const answer = webhook.answer(n);
      if (answer === 'hold') {
        webhook.held.push(res);
        res.once('close', () => {
          if (!res.writableEnded) webhook.givenUp++;
        });
      }
      else if (answer >= 300 && answer < 400 && webhook.location) res.writeHead(answer, { location: webhook.location }).end();
      else res.writeHead(answer).end();
    });
    self = new Webhook(server);
    return self;
  }

  get url(): string {
    return `${this.server.url}/audit`;
  }

  heldCount(): number {
    return this.held.length;
  }

  /** Answers every held delivery with `status`, and every later one at once. */
  release(status = 204): void {
    this.answer = () => status;
    for (const res of this.held.splice(0)) if (!res.destroyed) res.writeHead(status).end();
  }

  ids(): string[] {
    return this.deliveries.map((d) => String(d.event.requestId));
  }

  of(id: string): Delivery[] {
    return this.deliveries.filter((d) => d.event.requestId === id);
  }

  async waitFor(id: string, timeoutMs = 5000): Promise<Delivery> {
    await waitUntil(() => this.of(id).length > 0, timeoutMs, {
      message: () => `the webhook never received the event of ${id} (${this.deliveries.length} deliveries)`,
    });
    return this.of(id)[0] as Delivery;
  }

  close(): Promise<void> {
    for (const res of this.held.splice(0)) res.destroy();
    return this.server.close();
  }
}

/**
 * Lays out a secret volume as the kubelet does and updates it the same way (as in
 * credentials.e2e.spec.ts): the value lives in a timestamped folder, `..data` links to it, the key
 * file is a link into `..data`; an update writes a new folder, links `..data_tmp` to it, renames
 * that over `..data` (the atomic step) and then removes the old folder.
 */
class KubeletKeyVolume {
  private current: string | undefined;
  private version = 0;

  constructor(private readonly dir: string) {}

  get path(): string {
    return join(this.dir, KEY_FILE);
  }

  update(value: string): void {
    const folder = `..2026_01_01_00_00_0${++this.version}.${process.pid}`;
    mkdirSync(join(this.dir, folder));
    writeFileSync(join(this.dir, folder, KEY_FILE), value);
    symlinkSync(folder, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (!this.current) symlinkSync(join('..data', KEY_FILE), this.path);
    if (this.current) rmSync(join(this.dir, this.current), { recursive: true });
    this.current = folder;
  }
}

// ---------------------------------------------------------------------------------------------

describe('calls the caller abandons are audited once, as "aborted", in the log and at the webhook', () => {
  const webhookKey = `webhook-key-${randomBytes(12).toString('hex')}`;
  let webhook: Webhook;
  let g: Audited;
  let token: string;
  let caller: { issuer: string; subject: string; client: string };

  before(async () => {
    webhook = await Webhook.start();
    g = await startAudited((dir) => {
      writeFileSync(join(dir, KEY_FILE), `${webhookKey}\n`);
      return { audit_webhook_url: webhook.url, audit_webhook_secret_file: join(dir, KEY_FILE), upstream_timeout: '60s' };
    });
    token = forgeCallerToken(g.idp);
    const claims = claimsOf(token);
    caller = { issuer: g.idp.issuer, subject: claims.sub as string, client: claims.azp as string };
    // Reads the whole body and never answers (a stuck OpenFaaS, a slow function).
    g.openfaas.override('POST', '/system/functions', (req) => req.resume());
    g.openfaas.override('POST', '/function/sink', (req) => req.resume());
    // Answers an endless download at a modest pace until the connection goes.
    g.openfaas.override('GET', '/function/trickle', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(16 * 1024, 0x62));
      const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024, 0x62)), 20);
      res.once('close', () => clearInterval(timer));
    });
  });
  after(async () => {
    await g?.close();
    await webhook?.close();
  });

  /** Starts a request whose body is `sent` of `declared` bytes (the rest never comes); resolves once `sent` is written. */
  function startUpload(path: string, id: string, sent: Buffer, declared: number): Promise<ClientRequest> {
    return new Promise((resolve, reject) => {
      const headers = { authorization: `Bearer ${token}`, 'x-request-id': id, 'content-type': 'application/json', 'content-length': declared };
      const req = http.request(`${g.url}${path}`, { method: 'POST', agent: false, headers });
      req.on('error', () => undefined);
      req.once('response', (res: IncomingMessage) => reject(new Error(`answered ${res.statusCode} before the abort`)));
      req.write(sent, () => resolve(req));
    });
  }

  /** The stand-in's recording of the request with this id, once it satisfies `ready`. */
  async function atOpenFaas(id: string, ready: (r: RecordedRequest) => boolean): Promise<RecordedRequest> {
    return waitUntil(() => g.openfaas.requests.find((r) => r.headers['x-request-id'] === id && ready(r)), 5000, {
      message: `the request ${id} did not reach OpenFaaS as expected`,
    });
  }

  /**
   * The call with this id yields exactly one audit event, with these fields, in the log and at the
   * webhook (signed). "Exactly one" is checked after a later call's event has been delivered: the
   * queue is first in, first out, so a second event for the aborted call would have come by then.
   */
  async function assertAuditedOnce(id: string, expected: Json): Promise<void> {
    await settled(g, id);
    const logged = eventsOf(g, id);
    assert.equal(logged.length, 1, `exactly one audit event for ${id}: ${JSON.stringify(logged)}`);
    const event = logged[0] as Json;
    const want: Json = { ...expected, issuer: caller.issuer, subject: caller.subject, client: caller.client, outcome: 'aborted' };
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, event[k]])), want);

    const barrier = await send(g, { method: 'POST', path: '/function/echo', body: 'after the abort' }, `Bearer ${token}`);
    assert.equal(barrier.res.status, 200, barrier.res.text);
    await settled(g, barrier.id);
    await webhook.waitFor(barrier.id);
    assert.equal(eventsOf(g, id).length, 1, `still exactly one audit event in the log for ${id}`);
    const delivered = webhook.of(id);
    assert.equal(delivered.length, 1, `exactly one webhook delivery for ${id}`);
    const delivery = delivered[0] as Delivery;
    assert.equal(delivery.headers['x-gateway-signature'], sign(webhookKey, delivery.body));
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, delivery.event[k]])), want, 'the delivered event is the logged one');
  }

  it('a deploy whose OpenFaaS never answers, abandoned by the caller: Function:Create of the named function, 499 aborted', async () => {
    const id = newId('abort-deploy');
    const body = Buffer.from(JSON.stringify({ service: 'stuck', image: 'ghcr.io/x/stuck:1', namespace: 'team-a' }));
    const client = await startUpload('/system/functions', id, body, body.length);
    await atOpenFaas(id, (r) => r.complete && r.body.length === body.length);
    client.destroy();
    await atOpenFaas(id, (r) => r.aborted); // the gateway let go of the upstream request too
    await assertAuditedOnce(id, { action: 'Function:Create', target: 'stuck', namespace: 'team-a', method: 'POST', path: '/system/functions', status: 499 });
  });

  it('a deploy abandoned mid-body (its JSON cut short): Function:Create without a target, 499 aborted', async () => {
    const id = newId('abort-deploy-body');
    const part = Buffer.from('{"service":"half-sent","image":"ghcr.io/x/half');
    const client = await startUpload('/system/functions', id, part, 4096);
    await atOpenFaas(id, (r) => r.body.length === part.length);
    client.destroy();
    await assertAuditedOnce(id, { action: 'Function:Create', target: undefined, method: 'POST', path: '/system/functions', status: 499 });
  });

  it('an invocation upload abandoned mid-body: Function:Invoke of the function in its namespace, 499 aborted', async () => {
    const id = newId('abort-upload');
    const part = Buffer.alloc(64 * 1024, 0x61);
    const client = await startUpload('/function/sink.team-a', id, part, 1024 * 1024);
    await atOpenFaas(id, (r) => r.body.length > 0);
    client.destroy();
    await atOpenFaas(id, (r) => r.aborted);
    await assertAuditedOnce(id, { action: 'Function:Invoke', target: 'sink', namespace: 'team-a', method: 'POST', path: '/function/sink.team-a', status: 499 });
  });

  it('an invocation whose response the caller abandons mid-download: Function:Invoke, status 200 as sent, aborted', async () => {
    const id = newId('abort-download');
    const client = await new Promise<ClientRequest>((resolve, reject) => {
      const req = http.request(`${g.url}/function/trickle`, { agent: false, headers: { authorization: `Bearer ${token}`, 'x-request-id': id } });
      req.on('error', reject);
      req.on('response', (res: IncomingMessage) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => {
          req.removeListener('error', reject);
          req.on('error', () => undefined);
          resolve(req);
        });
      });
      req.end();
    });
    client.destroy();
    await assertAuditedOnce(id, { action: 'Function:Invoke', target: 'trickle', method: 'GET', path: '/function/trickle', status: 200 });
  });
});

describe('a webhook that fails: callers are answered as usual, events stay in the log, each undelivered event is counted once', () => {
  let webhook: Webhook;
  let g: Audited;
  let authorization: string;

  before(async () => {
    webhook = await Webhook.start();
    g = await startAudited((dir) => {
      writeFileSync(join(dir, KEY_FILE), 'k3y');
      return { audit_webhook_url: webhook.url, audit_webhook_secret_file: join(dir, KEY_FILE) };
    });
    authorization = `Bearer ${forgeCallerToken(g.idp)}`;
  });
  after(async () => {
    await g?.close();
    await webhook?.close();
  });

  it('5xx answers: one attempt per event (no retry), each counted in gateway_audit_webhook_dropped_total, then delivery resumes', async () => {
    const failures = [500, 502, 503, 504, 503];
    webhook.answer = (n) => failures[n] ?? 204;
    assert.equal(await droppedTotal(g), 0);
    const calls: Array<Call & { status: number }> = [
      { method: 'POST', path: '/system/functions', body: { service: 'hooked', image: 'x:1' }, status: 202 },
      { method: 'POST', path: '/system/scale-function/hooked', body: { serviceName: 'hooked', replicas: 2 }, status: 202 },
      { method: 'POST', path: '/function/echo', body: 'hello', status: 200 },
      { method: 'POST', path: '/system/secrets', body: { name: 'hooked-secret', value: 'v' }, status: 201 },
      { method: 'DELETE', path: '/system/functions', body: { functionName: 'hooked' }, status: 202 },
    ];
    const ids: string[] = [];
    for (const call of calls) {
      const started = performance.now();
      const { res, id } = await send(g, call, authorization);
      const elapsed = performance.now() - started;
      assert.equal(res.status, call.status, `${call.method} ${call.path}: ${res.text}`);
      assert.ok(elapsed < 1000, `${call.method} ${call.path} took ${Math.round(elapsed)} ms while the webhook fails`);
      await settled(g, id);
      assert.equal(eventsOf(g, id).length, 1, `${call.method} ${call.path} is audited in the log`);
      ids.push(id);
    }
    await waitForDropped(g, calls.length);
    assert.deepEqual(webhook.ids(), ids, 'each event was tried once, in order, and none again');
    assert.deepEqual(
      deliveryFailures(g).map((r) => [r.level, r.msg]),
      failures.map((status) => ['warn', `audit webhook delivery failed: answered HTTP ${status}`]),
    );

    // The webhook answers again: the next event is delivered, the failed ones are not sent again.
    const { res, id } = await send(g, { method: 'POST', path: '/function/echo', body: 'recovered' }, authorization);
    assert.equal(res.status, 200);
    await webhook.waitFor(id);
    assert.deepEqual(webhook.ids(), [...ids, id], 'no failed event was retried');
    assert.equal(await droppedTotal(g), calls.length, 'a delivered event is not counted');
  });

  it(
    'a webhook answering with a redirect (302, 307): the redirect is not followed, the event is counted as undelivered',
    async () => {
      const elsewhere: string[] = [];
      const other = await LoopbackServer.start(async (req, res) => {
        await readBody(req);
        elsewhere.push(`${req.method} ${req.url}`);
        res.writeHead(200).end('a login page');
      });
      try {
        const redirects = [302, 307];
        const dropped = await droppedTotal(g);
        const from = webhook.deliveries.length;
        webhook.location = `${other.url}/elsewhere`;
        webhook.answer = (n) => redirects[n - from] ?? 204;
        for (const status of redirects) {
          const { res, id } = await send(g, { method: 'POST', path: '/function/echo', body: `redirected ${status}` }, authorization);
          assert.equal(res.status, 200);
          await webhook.waitFor(id);
        }
        const { id } = await send(g, { method: 'POST', path: '/function/echo', body: 'after the redirects' }, authorization);
        await webhook.waitFor(id);
        assert.deepEqual(elsewhere, [], 'the gateway followed the webhook\'s redirect');
        assert.equal(await droppedTotal(g), dropped + redirects.length, 'events answered with a redirect were not delivered');
      } finally {
        webhook.location = undefined;
        webhook.answer = () => 204;
        await other.close();
      }
    },
  );
});

describe('an unreachable webhook (nothing listening on its port)', () => {
  let g: Audited;
  let authorization: string;

  before(async () => {
    const port = await closedPort();
    g = await startAudited((dir) => {
      writeFileSync(join(dir, KEY_FILE), 'k3y');
      return { audit_webhook_url: `http://127.0.0.1:${port}/audit`, audit_webhook_secret_file: join(dir, KEY_FILE) };
    });
    authorization = `Bearer ${forgeCallerToken(g.idp)}`;
  });
  after(() => g?.close());

  it('callers are answered as usual, every event is logged, and each is counted as dropped exactly once', async () => {
    assert.equal(await droppedTotal(g), 0);
    const calls: Array<Call & { status: number }> = [
      { method: 'POST', path: '/system/functions', body: { service: 'lonely', image: 'x:1' }, status: 202 },
      { method: 'POST', path: '/function/echo', body: 'anyone?', status: 200 },
      { method: 'DELETE', path: '/system/functions', body: { functionName: 'lonely' }, status: 202 },
    ];
    for (const [i, call] of calls.entries()) {
      const started = performance.now();
      const { res, id } = await send(g, call, authorization);
      const elapsed = performance.now() - started;
      assert.equal(res.status, call.status, `${call.method} ${call.path}: ${res.text}`);
      assert.ok(elapsed < 1000, `${call.method} ${call.path} took ${Math.round(elapsed)} ms while the webhook is unreachable`);
      await settled(g, id);
      assert.equal(eventsOf(g, id).length, 1, `${call.method} ${call.path} is audited in the log`);
      // One at a time: a second count for an earlier event would show here.
      await waitForDropped(g, i + 1);
    }
    const failures = deliveryFailures(g);
    assert.equal(failures.length, calls.length, 'one warning per undelivered event');
    for (const failure of failures) assert.equal(failure.level, 'warn');
  });
});

describe('a webhook that never answers: the bounded queue overflows', () => {
  let webhook: Webhook;
  let g: Audited;
  let authorization: string;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  before(async () => {
    webhook = await Webhook.start();
    webhook.answer = () => 'hold';
    g = await startAudited((dir) => {
      writeFileSync(join(dir, KEY_FILE), 'k3y');
      return { audit_webhook_url: webhook.url, audit_webhook_secret_file: join(dir, KEY_FILE) };
    });
    authorization = `Bearer ${forgeCallerToken(g.idp)}`;
  });
  after(async () => {
    agent.destroy();
    await webhook?.close();
    await g?.close();
  });

  /** POST /function/echo on a kept-alive connection; resolves with the status and how long it took. */
  function invoke(id: string): Promise<{ status: number; ms: number }> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const body = Buffer.from(id);
      const req = http.request(`${g.url}/function/echo`, {
        method: 'POST',
        agent,
        headers: { authorization, 'x-request-id': id, 'content-type': 'text/plain', 'content-length': body.length },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      });
      req.end(body);
    });
  }

  it(`more events than the queue holds (${QUEUE_BOUND}): callers are not slowed, the oldest queued are dropped and counted, the newest delivered once the webhook answers`, async () => {
    // The first event is taken off the queue and held at the webhook: from here every event queues.
    const first = newId('overflow-first');
    assert.equal((await invoke(first)).status, 200);
    await waitUntil(() => webhook.heldCount() === 1, 5000, { message: 'the webhook was never called' });

    const excess = 100;
    const ids = Array.from({ length: QUEUE_BOUND + excess }, (_, i) => `overflow-${i}-${randomBytes(3).toString('hex')}`);
    const started = performance.now();
    const results: Array<{ status: number; ms: number }> = [];
    for (let next = 0; next < ids.length; ) {
      const batch = ids.slice(next, (next += 32));
      results.push(...(await Promise.all(batch.map((id) => invoke(id)))));
    }
    const burstMs = performance.now() - started;
    assert.deepEqual(results.filter((r) => r.status !== 200), [], 'every call answered 200');
    const slowest = Math.max(...results.map((r) => r.ms));
    assert.ok(slowest < 1000, `a call took ${Math.round(slowest)} ms while the webhook holds the queue`);
    await waitUntil(() => auditEvents(g).length === ids.length + 1, 5000, {
      message: () => `${auditEvents(g).length} of ${ids.length + 1} events logged`,
    });

    // Events are queued as they are logged (in the order the calls ended, not the order they were
    // sent): the held one, then the burst's.
    const queued = auditEvents(g).map((e) => String(e.requestId));
    assert.equal(queued[0], first);
    assert.deepEqual([...queued.slice(1)].sort(), [...ids].sort(), 'one event per call in the log');

    webhook.release();
    // The queue is first in, first out, so the newest event is the last one delivered: once it has
    // arrived, so has everything that was queued at the release, however long the ~1000
    // deliveries take on this machine. The barrier, sent after that, shows that nothing follows.
    await webhook.waitFor(queued[queued.length - 1] as string, 60_000);
    const barrier = newId('overflow-last');
    assert.equal((await invoke(barrier)).status, 200);
    await webhook.waitFor(barrier);

    // The gateway gives a delivery up after its fixed 5 s webhook timeout, logs and counts it, and
    // sends the next queued event, which the webhook holds in turn. The burst normally ends well
    // before that (none given up); on a slower machine each delivery given up takes one more event
    // off the head of the queue before the release. The webhook sees each one go; the gateway's
    // log and counter must agree with it.
    const givenUp = webhook.givenUp;
    await waitUntil(() => deliveryFailures(g).length >= givenUp, 5000, { message: () => `${deliveryFailures(g).length} of ${givenUp} given-up deliveries logged` });
    assert.deepEqual(
      deliveryFailures(g).map((r) => [r.level, r.msg]),
      Array.from({ length: givenUp }, () => ['warn', 'audit webhook delivery failed: The operation was aborted due to timeout']),
      `deliveries given up during the ${Math.round(burstMs)} ms burst`,
    );
    const sent = webhook.ids();
    assert.equal(sent.pop(), barrier, 'the barrier came last');
    const sentOnce = new Set(sent);
    assert.equal(sentOnce.size, sent.length, 'no event was sent twice');
    assert.deepEqual(sent, queued.filter((id) => sentOnce.has(id)), 'events were sent in the order they were queued');
    assert.equal(sent[0], first);
    // What the queue held at the release, delivered after it: the newest events, at most its bound.
    const afterRelease = sent.slice(1 + givenUp);
    assert.ok(afterRelease.length <= QUEUE_BOUND, `${afterRelease.length} events were queued at the release`);
    assert.deepEqual(afterRelease, queued.slice(queued.length - afterRelease.length), 'the newest events were delivered after the release');
    const dropped = queued.filter((id) => !sentOnce.has(id));
    if (givenUp === 0) {
      // The held event, then the queue's content: the newest QUEUE_BOUND events, in order.
      assert.deepEqual(sent, [first, ...queued.slice(1 + excess)], `the ${excess} oldest queued events were dropped, nothing else, nothing twice`);
    } else {
      assert.ok(dropped.length > 0, `the queue never overflowed: ${givenUp} deliveries were given up during the ${Math.round(burstMs)} ms burst`);
    }
    assert.equal(await droppedTotal(g), dropped.length + givenUp, 'each undelivered event counted once: the overflow and the deliveries given up');
  });
});

describe('webhook key rotation (the secret volume updated as Kubernetes does)', () => {
  let webhook: Webhook;
  let g: Audited;
  let authorization: string;
  let volume: KubeletKeyVolume;
  const keys = [1, 2, 3].map((n) => `key-${n}-${randomBytes(8).toString('hex')}`);

  before(async () => {
    webhook = await Webhook.start();
    g = await startAudited((dir) => {
      volume = new KubeletKeyVolume(dir);
      volume.update(`${keys[0]}\n`);
      return { audit_webhook_url: webhook.url, audit_webhook_secret_file: volume.path };
    });
    authorization = `Bearer ${forgeCallerToken(g.idp)}`;
  });
  after(async () => {
    webhook?.release();
    await g?.close();
    await webhook?.close();
  });

  /** Sends an audited call and resolves with what the webhook received for it. */
  async function deliveredEvent(body: string): Promise<Delivery> {
    const { res, id } = await send(g, { method: 'POST', path: '/function/echo', body }, authorization);
    assert.equal(res.status, 200, res.text);
    return webhook.waitFor(id);
  }

  function assertSignedWith(delivery: Delivery, key: string): void {
    const signature = delivery.headers['x-gateway-signature'];
    const names = keys.map((k, i) => (signature === sign(k, delivery.body) ? `key ${i + 1}` : undefined)).filter(Boolean);
    assert.equal(signature, sign(key, delivery.body), `signed with ${names.join(', ') || 'no known key'}, expected key ${keys.indexOf(key) + 1}`);
  }

  it('events delivered after a rotation are signed with the new key, those before with the old one; no restart', async () => {
    const before1 = [await deliveredEvent('one'), await deliveredEvent('two')];
    volume.update(`${keys[1]}\n`);
    const after1 = [await deliveredEvent('three'), await deliveredEvent('four')];
    volume.update(keys[2] as string);
    const after2 = [await deliveredEvent('five')];
    for (const d of before1) assertSignedWith(d, keys[0] as string);
    for (const d of after1) assertSignedWith(d, keys[1] as string);
    for (const d of after2) assertSignedWith(d, keys[2] as string);
  });

  it('the key is read when an event is delivered: one still queued when the key rotates is signed with the new key', async () => {
    volume.update(`${keys[0]}\n`);
    webhook.answer = () => 'hold';
    const held = await send(g, { method: 'POST', path: '/function/echo', body: 'held' }, authorization);
    await webhook.waitFor(held.id);
    const queued = await send(g, { method: 'POST', path: '/function/echo', body: 'queued' }, authorization);
    await settled(g, queued.id);
    volume.update(`${keys[1]}\n`);
    webhook.release();
    assertSignedWith(webhook.of(held.id)[0] as Delivery, keys[0] as string);
    assertSignedWith(await webhook.waitFor(queued.id), keys[1] as string);
  });

  it('a key emptied by an update: the event is not sent (neither unsigned nor signed with an empty key), counted and logged; the next key signs again', async () => {
    const dropped = await droppedTotal(g);
    volume.update('\n');
    const { res, id } = await send(g, { method: 'POST', path: '/function/echo', body: 'no key' }, authorization);
    assert.equal(res.status, 200, 'the caller is answered as usual');
    await settled(g, id);
    assert.equal(eventsOf(g, id).length, 1, 'audited in the log');
    await waitForDropped(g, dropped + 1);
    volume.update(`${keys[2]}\n`);
    assertSignedWith(await deliveredEvent('key back'), keys[2] as string);
    assert.deepEqual(webhook.of(id), [], 'the event was not sent without its key');
  });
});
