import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { IncomingHttpHeaders } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { forgeCallerToken } from '../support/auth-fixtures';
import { LoopbackServer, readBody } from '../support/loopback-server';
import { nowSeconds } from '../support/tokens';
import { waitUntil } from '../support/wait';
import { ADMIN_PASSWORD, ADMIN_USER } from './harness';
import { Audited, auditEvents, Call, claimsOf, Json, send, settled, startAudited } from './audited-gateway';

/**
 * The audit trail: every state-changing call that passed authentication yields exactly one audit
 * event in the log (who, what in OpenFaaS IAM terms, on which function/secret/namespace, when,
 * how it ended), and the same event is POSTed to audit_webhook_url signed with HMAC-SHA256,
 * without the webhook ever delaying the proxied call.
 */

// ---------------------------------------------------------------------------------------------

describe('audit events in the log and at the webhook', () => {
  const webhookKey = `webhook-key-${randomBytes(12).toString('hex')}`;
  const received: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }> = [];
  let receiver: LoopbackServer;
  let g: Audited;
  let token: string;
  let caller: { issuer: string; subject: string; client: string };
  /** Request id → the audit event its call must yield. */
  const expectedEvents = new Map<string, Json>();

  before(async () => {
    receiver = await LoopbackServer.start(async (req, res) => {
      const body = await readBody(req);
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(204).end();
    });
    g = await startAudited((dir) => {
      // A key file as Kubernetes mounts it, with a trailing newline (trimmed like every secret file).
      writeFileSync(join(dir, 'audit-webhook-key'), `${webhookKey}\n`);
      return { audit_webhook_url: `${receiver.url}/hooks/audit`, audit_webhook_secret_file: join(dir, 'audit-webhook-key') };
    });
    token = forgeCallerToken(g.idp);
    const claims = claimsOf(token);
    caller = { issuer: g.idp.issuer, subject: claims.sub as string, client: claims.azp as string };
  });
  after(async () => {
    await g?.close();
    await receiver?.close();
  });

  // faas-cli's state-changing calls, in an order the stand-in accepts, each with the event it must yield.
  const writes: Array<Call & { status: number; action: string; target: string; namespace?: string }> = [
    { method: 'PUT', path: '/system/functions', body: { service: 'audited', image: 'ghcr.io/x/audited:1' }, status: 404, action: 'Function:Update', target: 'audited' },
    { method: 'POST', path: '/system/functions', body: { service: 'audited', image: 'ghcr.io/x/audited:1', namespace: 'openfaas-fn' }, status: 202, action: 'Function:Create', target: 'audited', namespace: 'openfaas-fn' },
    { method: 'PUT', path: '/system/functions', body: { service: 'audited', image: 'ghcr.io/x/audited:2', namespace: 'openfaas-fn' }, status: 202, action: 'Function:Update', target: 'audited', namespace: 'openfaas-fn' },
    { method: 'POST', path: '/system/functions', body: { service: 'in-team', image: 'ghcr.io/x/in-team:1', namespace: 'team-a' }, status: 202, action: 'Function:Create', target: 'in-team', namespace: 'team-a' },
    { method: 'POST', path: '/system/scale-function/audited', body: { serviceName: 'audited', replicas: 3 }, status: 202, action: 'Function:Scale', target: 'audited' },
    { method: 'POST', path: '/system/scale-function/in-team', body: { serviceName: 'in-team', namespace: 'team-a', replicas: 2 }, status: 202, action: 'Function:Scale', target: 'in-team', namespace: 'team-a' },
    { method: 'POST', path: '/system/secrets', body: { name: 'db-pass', value: 'first' }, status: 201, action: 'Secret:Create', target: 'db-pass' },
    { method: 'POST', path: '/system/secrets', body: { name: 'db-pass', value: 'again' }, status: 409, action: 'Secret:Create', target: 'db-pass' },
    { method: 'PUT', path: '/system/secrets', body: { name: 'db-pass', value: 'second', namespace: 'openfaas-fn' }, status: 200, action: 'Secret:Update', target: 'db-pass', namespace: 'openfaas-fn' },
    { method: 'DELETE', path: '/system/secrets', body: { name: 'db-pass' }, status: 204, action: 'Secret:Delete', target: 'db-pass' },
    { method: 'POST', path: '/system/namespace/team-b', body: { name: 'team-b' }, status: 501, action: 'Namespace:Create', target: 'team-b' },
    { method: 'DELETE', path: '/system/namespace/team-b', status: 501, action: 'Namespace:Delete', target: 'team-b' },
    { method: 'POST', path: '/function/echo.openfaas-fn', body: 'ping', status: 200, action: 'Function:Invoke', target: 'echo', namespace: 'openfaas-fn' },
    { method: 'POST', path: '/function/echo/some/sub/path?x=1', body: 'pong', status: 200, action: 'Function:Invoke', target: 'echo' },
    { method: 'GET', path: '/function/echo.openfaas-fn', status: 200, action: 'Function:Invoke', target: 'echo', namespace: 'openfaas-fn' },
    { method: 'POST', path: '/async-function/echo', body: 'later', status: 202, action: 'Function:Invoke', target: 'echo' },
    { method: 'DELETE', path: '/system/functions', body: { functionName: 'audited' }, status: 202, action: 'Function:Delete', target: 'audited' },
    { method: 'DELETE', path: '/system/functions', body: { functionName: 'in-team', namespace: 'team-a' }, status: 202, action: 'Function:Delete', target: 'in-team', namespace: 'team-a' },
  ];

  for (const w of writes) {
    it(`${w.method} ${w.path} (${w.status}) yields one ${w.action} event for ${w.target}`, async () => {
      const startedAt = Date.now();
      const { res, id } = await send(g, w, `Bearer ${token}`);
      assert.equal(res.status, w.status, res.text);
      await settled(g, id);
      const events = auditEvents(g).filter((e) => e.requestId === id);
      assert.equal(events.length, 1, `exactly one audit event for ${w.method} ${w.path}`);
      const event = events[0] as Json;
      expectedEvents.set(id, event);
      const expected: Json = {
        action: w.action,
        target: w.target,
        method: w.method,
        path: w.path.split('?')[0],
        status: w.status,
        outcome: w.status < 400 ? 'success' : 'failure',
        issuer: caller.issuer,
        subject: caller.subject,
        client: caller.client,
      };
      if (w.namespace) expected.namespace = w.namespace;
      assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, event[k]])), expected);
      const when = Date.parse(String(event.time));
      assert.ok(when >= startedAt - 1000 && when <= Date.now() + 1000, `time ${String(event.time)} is when the call happened`);
    });
  }

  it('reads yield no audit event', async () => {
    const reads: Call[] = [
      { method: 'GET', path: '/system/functions' },
      { method: 'GET', path: '/system/functions?namespace=team-a' },
      { method: 'GET', path: '/system/function/echo?usage=1' },
      { method: 'GET', path: '/system/secrets' },
      { method: 'GET', path: '/system/namespaces' },
      { method: 'GET', path: '/system/namespace/team-a' },
      { method: 'GET', path: '/system/info' },
      { method: 'GET', path: '/system/logs?name=echo&tail=5' },
      { method: 'HEAD', path: '/system/functions' },
      { method: 'POST', path: '/graphql', body: { query: '{ functions { name namespace } namespaces }' } },
      { method: 'GET', path: '/healthz' },
    ];
    for (const call of reads) {
      const { res, id } = await send(g, call, `Bearer ${token}`);
      assert.notEqual(res.status, 401, `${call.method} ${call.path}: ${res.text}`);
      await settled(g, id);
      assert.deepEqual(auditEvents(g).filter((e) => e.requestId === id), [], `${call.method} ${call.path} is a read`);
    }
  });

  it('refused calls (no token, expired, malformed, Basic credentials) yield no audit event and reach nothing', async () => {
    const now = nowSeconds();
    const expired = forgeCallerToken(g.idp, { iat: now - 7200, exp: now - 3600 });
    const refusals: Array<[Call, string | undefined]> = [
      [{ method: 'POST', path: '/system/functions', body: { service: 'sneaky', image: 'x' } }, undefined],
      [{ method: 'DELETE', path: '/system/functions', body: { functionName: 'echo' } }, `Bearer ${expired}`],
      [{ method: 'POST', path: '/system/secrets', body: { name: 'sneaky', value: 'x' } }, 'Bearer not.a.token'],
      [{ method: 'POST', path: '/system/scale-function/echo', body: { serviceName: 'echo', replicas: 0 } }, `Basic ${Buffer.from(`${ADMIN_USER}:${ADMIN_PASSWORD}`).toString('base64')}`],
      [{ method: 'POST', path: '/function/echo', body: 'x' }, undefined],
    ];
    g.openfaas.clearRequests();
    for (const [call, authorization] of refusals) {
      const { res, id } = await send(g, call, authorization);
      assert.equal(res.status, 401, `${call.method} ${call.path}: ${res.text}`);
      await settled(g, id);
      assert.deepEqual(auditEvents(g).filter((e) => e.requestId === id), [], `${call.method} ${call.path} was refused`);
    }
    assert.deepEqual(g.openfaas.requests.filter((r) => r.url !== '/healthz').map((r) => `${r.method} ${r.url}`), []);
  });

  it('the log holds no other audit events than those of the state-changing calls', () => {
    assert.equal(expectedEvents.size, writes.length, 'every state-changing call was checked');
    assert.deepEqual(auditEvents(g).map((e) => e.requestId).sort(), [...expectedEvents.keys()].sort());
  });

  it('the webhook receives each event as JSON, signed X-Gateway-Signature: sha256=HMAC-SHA256(key, body)', async () => {
    // A last write after the reads and refusals: once its event is in, anything queued before it is too.
    const { res, id: lastId } = await send(g, { method: 'POST', path: '/system/secrets', body: { name: 'last', value: 'x' } }, `Bearer ${token}`);
    assert.equal(res.status, 201, res.text);
    await settled(g, lastId);
    const last = auditEvents(g).find((e) => e.requestId === lastId);
    assert.ok(last);
    expectedEvents.set(lastId, last);
    const requestIdOf = (d: (typeof received)[number]) => String((JSON.parse(d.body.toString('utf8')) as Json).requestId);
    await waitUntil(() => received.some((d) => requestIdOf(d) === lastId), 5000, {
      message: `the webhook received ${received.length} events, not the last one`,
    });
    assert.deepEqual(received.map(requestIdOf).sort(), [...expectedEvents.keys()].sort(), 'one delivery per audit event, none for reads or refusals');
    for (const delivery of received) {
      assert.equal(delivery.method, 'POST');
      assert.equal(delivery.url, '/hooks/audit');
      assert.match(String(delivery.headers['content-type']), /^application\/json\b/);
      const expectedSignature = `sha256=${createHmac('sha256', webhookKey).update(delivery.body).digest('hex')}`;
      assert.equal(delivery.headers['x-gateway-signature'], expectedSignature, 'HMAC-SHA256 of the raw body with the key');
      const event = JSON.parse(delivery.body.toString('utf8')) as Json;
      const logged = expectedEvents.get(String(event.requestId)) as Json;
      for (const field of ['action', 'target', 'namespace', 'method', 'path', 'status', 'outcome', 'issuer', 'subject', 'client']) {
        assert.deepEqual(event[field], logged[field], `${field} of ${String(event.requestId)} as logged`);
      }
      const when = Date.parse(String(event.time));
      assert.ok(Math.abs(when - Date.parse(String(logged.time))) < 1000, `the delivered event says when: ${String(event.time)}`);
    }
    // The signature covers these bytes: changed bytes no longer match it.
    const first = received[0] as (typeof received)[number];
    const tampered = Buffer.from(first.body.toString('utf8').replace(/"status":\d+/, '"status":299'));
    assert.notEqual(`sha256=${createHmac('sha256', webhookKey).update(tampered).digest('hex')}`, first.headers['x-gateway-signature']);
  });

  it('neither the webhook key nor a token appears in any log line', () => {
    for (const line of g.lines) {
      assert.ok(!line.includes(webhookKey), `the webhook key is logged: ${line}`);
      assert.ok(!line.includes(token.split('.')[2] as string), `a token is logged: ${line}`);
    }
  });
});

describe('a webhook that never answers', () => {
  let hanging: LoopbackServer;
  let g: Audited;
  const held: Array<() => void> = [];

  before(async () => {
    hanging = await LoopbackServer.start((req, res) => {
      // Reads nothing and answers nothing, until the test lets go.
      held.push(() => res.destroy());
    });
    g = await startAudited((dir) => {
      writeFileSync(join(dir, 'audit-webhook-key'), 'k3y');
      return { audit_webhook_url: `${hanging.url}/audit`, audit_webhook_secret_file: join(dir, 'audit-webhook-key') };
    });
  });
  after(async () => {
    for (const release of held) release();
    await hanging?.close();
    await g?.close();
  });

  it('does not delay the proxied calls, which are still audited in the log', async () => {
    const token = forgeCallerToken(g.idp);
    const calls: Call[] = [
      { method: 'POST', path: '/system/functions', body: { service: 'quick', image: 'x:1' } },
      { method: 'POST', path: '/system/scale-function/quick', body: { serviceName: 'quick', replicas: 2 } },
      { method: 'POST', path: '/function/echo', body: 'fast' },
      { method: 'DELETE', path: '/system/functions', body: { functionName: 'quick' } },
    ];
    for (const call of calls) {
      const started = performance.now();
      const { res, id } = await send(g, call, `Bearer ${token}`);
      const elapsed = performance.now() - started;
      assert.ok(res.status < 300, `${call.method} ${call.path}: ${res.status} ${res.text}`);
      assert.ok(elapsed < 1000, `${call.method} ${call.path} took ${Math.round(elapsed)} ms while the webhook hangs`);
      await settled(g, id);
      assert.equal(auditEvents(g).filter((e) => e.requestId === id).length, 1, 'audited in the log all the same');
      if (call === calls[0]) {
        // The webhook was really tried (and is now hanging), so the later calls prove the point.
        await waitUntil(() => held.length >= 1, 5000, { message: 'the webhook was never called' });
      }
    }
  });
});
