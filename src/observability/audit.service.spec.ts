import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { GatewayConfig } from '../config/gateway-config';
import { auditActionOf } from './audit-action';
import { AuditService } from './audit.service';
import { createLogger } from './logger';
import type { MetricsService } from './metrics.service';

const CALLER = { issuer: 'https://idp.example', subject: 'alice', client: 'faas-cli' };

function setup(webhook?: { url: URL; secretFile: string }) {
  const lines: string[] = [];
  const logger = createLogger({ encoding: 'json', debug: false }, { write: (line: string) => void lines.push(line) }).logger;
  let drops = 0;
  const metrics = { auditDrop: () => void drops++ } as unknown as MetricsService;
  const config = { auditWebhookUrl: webhook?.url, auditWebhookSecretFile: webhook?.secretFile } as unknown as GatewayConfig;
  const audit = new AuditService(config, logger, metrics);
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { audit, lines, records, drops: () => drops };
}

/** Records the audit event of `method url` with `body` and returns what was logged. */
function recordOne(method: string, url: string, body?: Record<string, unknown>, status = 202) {
  const { audit, records } = setup();
  const action = auditActionOf(method, url);
  assert.ok(action, `${method} ${url} is audited`);
  const q = url.indexOf('?');
  audit.record(action, body, {
    requestId: 'req-1',
    method,
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? '' : url.slice(q + 1),
    status,
    outcome: status < 400 ? 'success' : 'failure',
    ...CALLER,
  });
  const all = records();
  assert.equal(all.length, 1);
  return all[0] as Record<string, unknown>;
}

describe(AuditService.name, () => {
  it('cuts a target or namespace longer than any OpenFaaS name (253 characters), so queued events stay small', () => {
    const long = 'f'.repeat(60_000);
    const event = recordOne('POST', '/system/functions', { service: long, namespace: `n${long}` });
    assert.equal(event.target, `${'f'.repeat(253)}...`);
    assert.equal(event.namespace, `n${'f'.repeat(252)}...`);
    const normal = recordOne('POST', '/system/functions', { service: 'f'.repeat(253), namespace: 'team-a' });
    assert.equal(normal.target, 'f'.repeat(253), 'a name of the longest valid length is kept whole');
  });

  it('logs one audit event: who, what, which target, when, how it ended', () => {
    const before = Date.now();
    const event = recordOne('POST', '/system/functions', { service: 'fn', namespace: 'team-a', image: 'x' });
    assert.equal(event.event, 'audit');
    assert.equal(event.level, 'info');
    assert.deepEqual(
      { action: event.action, target: event.target, namespace: event.namespace, method: event.method, path: event.path, status: event.status, outcome: event.outcome, requestId: event.requestId, issuer: event.issuer, subject: event.subject, client: event.client },
      { action: 'Function:Create', target: 'fn', namespace: 'team-a', method: 'POST', path: '/system/functions', status: 202, outcome: 'success', requestId: 'req-1', ...CALLER },
    );
    const when = Date.parse(String(event.time));
    assert.ok(when >= before - 1000 && when <= Date.now() + 1000);
    assert.equal('image' in event, false, 'the body itself is not logged');
  });

  it('names targets from the body (service, functionName, name), the path, or the query', () => {
    assert.equal(recordOne('DELETE', '/system/functions', { functionName: 'gone' }).target, 'gone');
    assert.equal(recordOne('PUT', '/system/secrets', { name: 'db-pass', value: 'hidden' }).target, 'db-pass');
    assert.equal(recordOne('POST', '/system/scale-function/echo', { serviceName: 'echo', replicas: 2 }).target, 'echo');
    assert.equal(recordOne('DELETE', '/system/namespace/team-b').target, 'team-b');
    assert.equal(recordOne('DELETE', '/system/functions?namespace=team-a', { functionName: 'x' }).namespace, 'team-a');
  });

  it('splits NAME.NAMESPACE of an invocation into target and namespace', () => {
    const event = recordOne('POST', '/function/echo.team-a/path?q=1', undefined, 200);
    assert.deepEqual([event.action, event.target, event.namespace], ['Function:Invoke', 'echo', 'team-a']);
    const plain = recordOne('POST', '/function/echo', undefined, 200);
    assert.deepEqual([plain.target, plain.namespace], ['echo', undefined]);
  });

  it('never logs a secret value from the body', () => {
    const event = recordOne('POST', '/system/secrets', { name: 's', value: 'very-secret-value' }, 201);
    assert.ok(!JSON.stringify(event).includes('very-secret-value'));
  });

  it('peekBody reads the JSON body as it streams past, and gives up on anything else', async () => {
    const { audit } = setup();
    const cases: Array<[Array<string | Buffer>, unknown]> = [
      [['{"service":', '"fn","namespace":"team-a"}'], { service: 'fn', namespace: 'team-a' }],
      [['not json'], undefined],
      [['[1,2]'], undefined],
      [[], undefined],
      [[Buffer.alloc(70 * 1024, 0x20), '{"service":"late"}'], undefined],
    ];
    for (const [chunks, expected] of cases) {
      // The request as the proxy sees it: a readable stream of body chunks.
      const stream = new PassThrough();
      const peek = audit.peekBody(stream as unknown as IncomingMessage);
      for (const chunk of chunks) stream.write(chunk);
      stream.end();
      await new Promise((resolve) => stream.once('end', resolve));
      assert.deepEqual(peek(), expected, JSON.stringify(chunks).slice(0, 80));
    }
  });

  it('a failing webhook is counted as dropped and logged, never thrown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-spec-'));
    try {
      writeFileSync(join(dir, 'key'), 'k');
      const { audit, lines, drops } = setup({ url: new URL('http://127.0.0.1:1/audit'), secretFile: join(dir, 'key') });
      const action = auditActionOf('POST', '/system/functions');
      assert.ok(action);
      audit.record(action, { service: 'fn' }, { requestId: 'r', method: 'POST', path: '/system/functions', query: '', status: 202, outcome: 'success', ...CALLER });
      const deadline = Date.now() + 5000;
      while (drops() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(drops(), 1);
      assert.ok(lines.some((l) => /webhook delivery failed/.test(l) && /"level":"warn"/.test(l)), lines.join(''));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
