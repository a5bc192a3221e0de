import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { GatewayConfig } from '../../src/config/gateway-config';
import { RunningGateway } from '../../src/gateway';
import { forgeCallerToken } from '../support/auth-fixtures';
import { request } from '../support/http-client';
import { TestIdentityProvider } from '../support/identity-provider';
import { OpenFaasStandIn } from '../support/openfaas-stand-in';
import { nowSeconds } from '../support/tokens';
import { waitUntil } from '../support/wait';
import { ADMIN_BASIC, ADMIN_PASSWORD, ADMIN_USER, captureLines, Harness } from './harness';

/**
 * Metrics on metrics_port, the access log (JSON and console encodings, request ids) and the rule
 * that no token or admin credential ever reaches a log line or a metric, checked against a real
 * gateway between a real OpenID Provider and the recording OpenFaaS stand-in, with its log lines
 * captured as the process would write them.
 */

const ADMIN_BASIC_B64 = ADMIN_BASIC.slice('Basic '.length);
const REQUEST_ID_SHAPE = /^[A-Za-z0-9._:-]{1,128}$/;
/** An id the gateway made: 16 hex digits random per process, a dash, a sequence number in base 36. */
const MADE_ID_SHAPE = /^[0-9a-f]{16}-[0-9a-z]+$/;

// ---------------------------------------------------------------------------------------------
// A gateway whose log lines are captured (Harness.start boots it silent).

interface Observed {
  readonly idp: TestIdentityProvider;
  readonly openfaas: OpenFaasStandIn;
  readonly gateway: RunningGateway;
  readonly config: GatewayConfig;
  /** Every complete line the gateway logged, in order, without the newline. */
  readonly lines: string[];
  readonly url: string;
  readonly metricsUrl: string;
  close(): Promise<void>;
}

async function startObserved(env: Record<string, string> = {}): Promise<Observed> {
  const capture = captureLines();
  const h = await Harness.start({ env, logDestination: capture.destination });
  return {
    idp: h.idp,
    openfaas: h.openfaas,
    gateway: h.gateway,
    config: h.config,
    lines: capture.lines,
    url: h.url,
    metricsUrl: `http://127.0.0.1:${h.gateway.metricsPort}`,
    close: () => h.close(),
  };
}

type LogRecord = Record<string, unknown>;

function parsed(lines: readonly string[]): LogRecord[] {
  return lines.map((line) => JSON.parse(line) as LogRecord);
}

/** The names of a JSON object's own members as written, duplicates included (JSON.parse keeps only the last). */
function memberNames(line: string): string[] {
  const names: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let end = i + 1;
      while (line[end] !== '"' && end < line.length) end += line[end] === '\\' ? 2 : 1;
      if (depth === 1 && /^\s*:/.test(line.slice(end + 1))) names.push(JSON.parse(line.slice(i, end + 1)) as string);
      i = end;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
    }
  }
  return names;
}

function accessLines(lines: readonly string[]): LogRecord[] {
  return parsed(lines).filter((r) => r.msg === 'request');
}

/** Waits until the access line(s) of `requestId` have been written and returns them all. */
async function accessLinesFor(g: Observed, requestId: string): Promise<LogRecord[]> {
  await waitUntil(() => accessLines(g.lines).some((r) => r.requestId === requestId), 5000, {
    message: `no access line with requestId ${requestId}`,
  });
  return accessLines(g.lines).filter((r) => r.requestId === requestId);
}

// ---------------------------------------------------------------------------------------------
// Tokens

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A token whose signature was made with a key the IdP never published (same kid). */
function foreignKeyToken(idp: TestIdentityProvider): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return forgeCallerToken(idp, {}, privateKey);
}

function expiredToken(idp: TestIdentityProvider): string {
  const now = nowSeconds();
  return forgeCallerToken(idp, { iat: now - 7200, exp: now - 3600 });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

// ---------------------------------------------------------------------------------------------
// Prometheus text format

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    assert.ok(match, `unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, raw] of (match[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name as string] = (raw as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(g: Observed): Promise<{ text: string; samples: Sample[] }> {
  const res = await request(`${g.metricsUrl}/metrics`);
  assert.equal(res.status, 200, res.text);
  return { text: res.text, samples: parseMetrics(res.text) };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name}${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

/** Series of one metric as "label=value,..." → value, for exact comparisons. */
function seriesOf(samples: Sample[], name: string, labelNames: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples.filter((x) => x.name === name)) {
    out[labelNames.map((l) => `${l}=${s.labels[l] ?? ''}`).join(',')] = s.value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('metrics on metrics_port', () => {
  let g: Observed;
  before(async () => {
    g = await startObserved();
  });
  after(() => g?.close());

  /** Every token sent in this suite, and the subject and client of the first. */
  const tokens: string[] = [];
  let subject = '';
  let client = '';
  let final: { text: string; samples: Sample[] };

  it('the verified-token cache: the same token twice is one miss, then one hit', async () => {
    const token = forgeCallerToken(g.idp);
    tokens.push(token);
    subject = claimsOf(token).sub as string;
    client = claimsOf(token).azp as string;
    const hits = (s: Sample[]) => value(s, 'gateway_token_cache_hits_total') ?? NaN;
    const misses = (s: Sample[]) => value(s, 'gateway_token_cache_misses_total') ?? NaN;

    const s0 = (await scrape(g)).samples;
    assert.equal((await request(`${g.url}/system/functions`, { headers: bearer(token) })).status, 200);
    const s1 = (await scrape(g)).samples;
    assert.deepEqual({ hits: hits(s1) - hits(s0), misses: misses(s1) - misses(s0) }, { hits: 0, misses: 1 }, 'first use of a token');
    assert.equal((await request(`${g.url}/system/functions`, { headers: bearer(token) })).status, 200);
    const s2 = (await scrape(g)).samples;
    assert.deepEqual({ hits: hits(s2) - hits(s1), misses: misses(s2) - misses(s1) }, { hits: 1, misses: 0 }, 'second use of the same token');
  });

  it('after a known mix of requests, gateway_http_requests_total counts each route class, method and status exactly', async () => {
    const expired = expiredToken(g.idp);
    const forged = foreignKeyToken(g.idp);
    const idpToken = await g.idp.clientCredentialsToken();
    tokens.push(expired, forged, idpToken);

    const call = async (label: string, expected: number, url: string, opts: Parameters<typeof request>[1]) => {
      const res = await request(`${g.url}${url}`, opts);
      assert.equal(res.status, expected, `${label}: ${res.text}`);
    };
    await call('no token', 401, '/system/functions', {});
    await call('expired token', 401, '/system/functions', { headers: bearer(expired) });
    await call('token signed with a foreign key', 401, '/system/functions', { headers: bearer(forged) });
    await call('graphql', 200, '/graphql', {
      method: 'POST',
      headers: { ...bearer(idpToken), 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ gatewayStatus { version } }' }),
    });
    await call('healthz', 200, '/healthz', {});
    await call('invoke with allow_invoke unset', 403, '/function/echo', { method: 'POST', headers: bearer(tokens[0] as string), body: 'hi' });

    const expected = {
      'route=system,method=GET,status=200': 2, // the two calls of the cache test
      'route=system,method=GET,status=401': 3,
      'route=graphql,method=POST,status=200': 1,
      'route=health,method=GET,status=200': 1,
      'route=function,method=POST,status=403': 1,
    };
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    // The counter moves when the response has closed, which may be just after the client has it all.
    await waitUntil(async () => {
      final = await scrape(g);
      const counted = final.samples.filter((s) => s.name === 'gateway_http_requests_total').reduce((a, s) => a + s.value, 0);
      return counted >= total;
    }, 5000, { message: `gateway_http_requests_total never reached ${total}` });
    assert.deepEqual(seriesOf(final.samples, 'gateway_http_requests_total', ['route', 'method', 'status']), expected);
  });

  it('gateway_auth_failures_total counts each refused token by its reason', () => {
    assert.deepEqual(seriesOf(final.samples, 'gateway_auth_failures_total', ['reason']), {
      'reason=missing_token': 1,
      'reason=expired': 1,
      'reason=bad_signature': 1,
    });
  });

  it('gateway_upstream_response_seconds observes each forwarded call, by route class', () => {
    assert.deepEqual(seriesOf(final.samples, 'gateway_upstream_response_seconds_count', ['route']), { 'route=system': 2 });
    assert.equal(value(final.samples, 'gateway_upstream_response_seconds_bucket', { route: 'system', le: '+Inf' }), 2);
    const sum = value(final.samples, 'gateway_upstream_response_seconds_sum', { route: 'system' }) ?? NaN;
    assert.ok(sum > 0 && sum < 10, `sum of upstream seconds: ${sum}`);
    const buckets = final.samples.filter((s) => s.name === 'gateway_upstream_response_seconds_bucket').map((s) => s.value);
    assert.ok(buckets.length > 3, 'a histogram has several buckets');
    assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), 'buckets are cumulative');
  });

  it('signing keys: JWKS fetches counted by outcome, keys held as a gauge', () => {
    const fetches = seriesOf(final.samples, 'gateway_jwks_fetches_total', ['outcome']);
    assert.ok((fetches['outcome=success'] ?? 0) >= 1, `gateway_jwks_fetches_total: ${JSON.stringify(fetches)}`);
    assert.equal(fetches['outcome=failure'] ?? 0, 0, 'no fetch failed');
    assert.equal(value(final.samples, 'gateway_signing_keys'), 1);
  });

  it('default process metrics are exported', () => {
    const names = new Set(final.samples.map((s) => s.name));
    assert.ok(names.has('process_cpu_user_seconds_total'), 'process_cpu_user_seconds_total');
    assert.ok(names.has('nodejs_heap_size_total_bytes'), 'nodejs_heap_size_total_bytes');
  });

  it('no label value carries a token, the subject or client of a caller, or the admin credentials', () => {
    assert.ok(tokens.length >= 4 && subject && client);
    const forbidden = [...tokens, ...tokens.map((t) => t.split('.')[2] as string), subject, client, 'demo-client', ADMIN_PASSWORD, ADMIN_BASIC_B64];
    for (const s of final.samples) {
      for (const [label, text] of Object.entries(s.labels)) {
        for (const secret of forbidden) {
          assert.ok(!text.includes(secret), `${s.name}{${label}="${text}"} carries ${secret.slice(0, 24)}…`);
        }
      }
    }
    for (const secret of [...tokens, ADMIN_PASSWORD, ADMIN_BASIC_B64]) {
      assert.ok(!final.text.includes(secret), 'a secret appears somewhere in /metrics');
    }
    // The gateway's own metrics carry only bounded labels (issuer: the configured issuer's name).
    const allowed = new Set(['route', 'method', 'status', 'reason', 'outcome', 'issuer', 'le']);
    for (const s of final.samples.filter((x) => x.name.startsWith('gateway_'))) {
      for (const label of Object.keys(s.labels)) assert.ok(allowed.has(label), `${s.name} has label ${label}`);
    }
  });

  it('/livez answers 200 on metrics_port, and /metrics is not served on the public port', async () => {
    const livez = await request(`${g.metricsUrl}/livez`);
    assert.equal(livez.status, 200);
    const exposed = await request(`${g.url}/metrics`);
    assert.equal(exposed.status, 404, 'the public port has no /metrics');
    assert.doesNotMatch(exposed.text, /gateway_http_requests_total/);
  });
});

describe('access log with log_encoding=json', () => {
  let g: Observed;
  /** How many requests this suite has sent to the public port. */
  let sent = 0;
  before(async () => {
    g = await startObserved({ log_encoding: 'json' });
  });
  after(() => g?.close());

  const call = (path: string, opts: Parameters<typeof request>[1] = {}) => {
    sent++;
    return request(`${g.url}${path}`, opts);
  };

  it('a valid incoming X-Request-Id is returned, sent upstream and logged', async () => {
    const id = `req-${randomBytes(6).toString('hex')}:a.b_c`;
    const res = await call('/system/functions', { headers: { ...bearer(forgeCallerToken(g.idp)), 'x-request-id': id } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-request-id'], id);
    const upstream = g.openfaas.requests.filter((r) => r.url === '/system/functions').at(-1);
    assert.equal(upstream?.headers['x-request-id'], id, 'OpenFaaS sees the same request id');
    assert.equal((await accessLinesFor(g, id)).length, 1);
  });

  for (const [label, given] of [
    ['one with spaces', 'not a valid id'],
    ['one of 200 characters', 'a'.repeat(200)],
    ['one with a quote and braces', '{"x":1}'],
  ] as const) {
    it(`an invalid X-Request-Id (${label}) is replaced by a generated one, used throughout`, async () => {
      g.openfaas.clearRequests();
      const res = await call('/system/functions', { headers: { ...bearer(forgeCallerToken(g.idp)), 'x-request-id': given } });
      assert.equal(res.status, 200);
      const id = String(res.headers['x-request-id'] ?? '');
      assert.notEqual(id, given);
      assert.match(id, REQUEST_ID_SHAPE);
      const upstream = g.openfaas.requests.filter((r) => r.url === '/system/functions');
      assert.equal(upstream.length, 1);
      assert.equal(upstream[0]?.headers['x-request-id'], id, 'OpenFaaS sees the generated id, not the invalid one');
      assert.equal((await accessLinesFor(g, id)).length, 1);
      assert.ok(!g.lines.some((line) => line.includes(given)), 'the refused id is not logged');
    });
  }

  it('without X-Request-Id each request gets a fresh id, returned and sent upstream', async () => {
    g.openfaas.clearRequests();
    const token = forgeCallerToken(g.idp);
    const first = await call('/system/functions', { headers: bearer(token) });
    const second = await call('/system/functions', { headers: bearer(token) });
    const ids = [first, second].map((r) => String(r.headers['x-request-id'] ?? ''));
    for (const id of ids) assert.match(id, REQUEST_ID_SHAPE);
    assert.notEqual(ids[0], ids[1]);
    // Made ids: this process's random prefix, then a sequence number.
    for (const id of ids) assert.match(id, MADE_ID_SHAPE);
    const prefixes = ids.map((id) => id.slice(0, id.indexOf('-')));
    assert.equal(prefixes[0], prefixes[1], `one prefix per process: ${ids.join(', ')}`);
    assert.deepEqual(
      g.openfaas.requests.filter((r) => r.url === '/system/functions').map((r) => r.headers['x-request-id']),
      ids,
    );
    // Refusals carry an id too.
    const refused = await call('/system/functions');
    assert.equal(refused.status, 401);
    assert.match(String(refused.headers['x-request-id'] ?? ''), REQUEST_ID_SHAPE);
    assert.match(String(refused.headers['x-request-id'] ?? ''), MADE_ID_SHAPE);
    assert.ok(String(refused.headers['x-request-id']).startsWith(`${prefixes[0]}-`), 'refusals get ids of the same process prefix');
    assert.ok(!ids.includes(String(refused.headers['x-request-id'])));
  });

  it('one access line per request: method, path, status, durationMs, requestId, subject and client', async () => {
    const withAzp = forgeCallerToken(g.idp, { azp: 'ci-pipeline' });
    const withClientId = forgeCallerToken(g.idp, { azp: undefined, client_id: 'faas-cli-client', sub: 'svc-account-7' });
    const graphqlBody = JSON.stringify({ query: '{ gatewayStatus { version } }' });
    const cases: Array<{ method: string; path: string; query?: string; headers: Record<string, string>; body?: string; status: number; token?: string }> = [
      { method: 'GET', path: '/system/functions', query: '?namespace=openfaas-fn', headers: bearer(withAzp), status: 200, token: withAzp },
      { method: 'GET', path: '/system/function/echo', headers: bearer(withClientId), status: 200, token: withClientId },
      {
        method: 'POST',
        path: '/system/functions',
        headers: { ...bearer(withClientId), 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'logged', image: 'ghcr.io/x/logged:1' }),
        status: 202,
        token: withClientId,
      },
      { method: 'POST', path: '/graphql', headers: { ...bearer(withAzp), 'content-type': 'application/json' }, body: graphqlBody, status: 200, token: withAzp },
      { method: 'GET', path: '/system/functions', headers: {}, status: 401 },
      { method: 'GET', path: '/system/functions', headers: bearer(expiredToken(g.idp)), status: 401 },
      { method: 'POST', path: '/function/echo', headers: bearer(withAzp), body: 'x', status: 403 },
      { method: 'GET', path: '/healthz', headers: {}, status: 200 },
      { method: 'GET', path: '/no-such-route', headers: bearer(withAzp), status: 404 },
    ];
    for (const c of cases) {
      const id = `case-${randomBytes(6).toString('hex')}`;
      const started = performance.now();
      const res = await call(`${c.path}${c.query ?? ''}`, { method: c.method, headers: { ...c.headers, 'x-request-id': id }, body: c.body });
      const elapsed = performance.now() - started;
      const label = `${c.method} ${c.path}`;
      assert.equal(res.status, c.status, `${label}: ${res.text}`);
      const found = await accessLinesFor(g, id);
      assert.equal(found.length, 1, `${label}: exactly one access line`);
      const line = found[0] as LogRecord;
      assert.equal(line.method, c.method, label);
      assert.equal(line.path, c.path, label);
      assert.equal(line.status, c.status, label);
      assert.equal(typeof line.durationMs, 'number', label);
      assert.ok((line.durationMs as number) >= 0 && (line.durationMs as number) <= elapsed + 50, `${label}: durationMs ${String(line.durationMs)}`);
      if (c.token) {
        const claims = claimsOf(c.token);
        assert.equal(line.subject, claims.sub, `${label}: subject`);
        assert.equal(line.client, claims.azp ?? claims.client_id, `${label}: client (azp, else client_id)`);
      } else {
        assert.equal(line.subject, undefined, `${label}: no subject without a valid token`);
        assert.equal(line.client, undefined, `${label}: no client without a valid token`);
      }
    }
  });

  it('every line is one JSON object with a time, a level and a message, and access lines match requests one to one', async () => {
    await waitUntil(() => accessLines(g.lines).length >= sent, 5000, { message: `expected ${sent} access lines` });
    for (const line of g.lines) {
      let record: unknown;
      assert.doesNotThrow(() => (record = JSON.parse(line)), `not JSON: ${line}`);
      assert.ok(record !== null && typeof record === 'object' && !Array.isArray(record), line);
      const r = record as LogRecord;
      assert.ok(r.level !== undefined && r.time !== undefined && typeof r.msg === 'string', `time, level and msg: ${line}`);
      const names = memberNames(line);
      assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), [], `a member name appears twice: ${line}`);
    }
    const access = accessLines(g.lines);
    assert.equal(access.length, sent, 'one access line per request sent');
    assert.equal(new Set(access.map((r) => r.requestId)).size, sent, 'each with its own request id');
    // Nest's own logs go through the same logger and format.
    assert.ok(
      parsed(g.lines).some((r) => typeof r.msg === 'string' && /listening on/.test(r.msg)),
      'the gateway start-up line is a JSON record',
    );
    assert.ok(
      parsed(g.lines).some((r) => typeof r.context === 'string' && /^(NestFactory|InstanceLoader|RoutesResolver|RouterExplorer|NestApplication)$/.test(r.context)),
      "Nest's framework logs are JSON records of the same logger",
    );
  });

  it('with allow_invoke unset only the deploy is audited: not reads, refusals, nor the refused invocation (403)', () => {
    const audits = parsed(g.lines).filter((r) => r.event === 'audit');
    assert.deepEqual(audits.map((a) => [a.action, a.target, a.status]), [['Function:Create', 'logged', 202]]);
  });
});

describe('access log with log_encoding=console', () => {
  let g: Observed;
  before(async () => {
    g = await startObserved({ log_encoding: 'console' });
  });
  after(() => g?.close());

  it('every line is readable text that starts with an ISO time and a level, not JSON', async () => {
    const id = `console-${randomBytes(6).toString('hex')}`;
    const token = forgeCallerToken(g.idp);
    const res = await request(`${g.url}/system/functions`, { headers: { ...bearer(token), 'x-request-id': id } });
    assert.equal(res.status, 200);
    const line = await waitUntil(() => g.lines.find((l) => l.includes(id)), 5000, { message: 'no access line' });
    assert.equal(g.lines.filter((l) => l.includes(id)).length, 1, 'one access line');
    for (const expected of ['GET', '/system/functions', '200', claimsOf(token).sub as string]) {
      assert.ok(line.includes(expected), `the access line shows ${expected}: ${line}`);
    }
    assert.ok(g.lines.length > 1);
    for (const l of g.lines) {
      assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\s+(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\b/i, l);
      assert.throws(() => JSON.parse(l), `a console line must not be JSON: ${l}`);
    }
  });
});

describe('no token or admin credential in any log line', () => {
  let g: Observed;
  before(async () => {
    g = await startObserved({ log_encoding: 'json', debug: 'true', allow_invoke: 'true' });
  });
  after(() => g?.close());

  it('a representative traffic mix, with debug logging, leaves no secret in the log', async () => {
    const tokens: string[] = [];
    const issue = async () => {
      const t = await g.idp.clientCredentialsToken();
      tokens.push(t);
      return t;
    };
    const keep = (t: string) => (tokens.push(t), t);
    const valid = await issue();
    const secretValue = `s3cret-value-${randomBytes(6).toString('hex')}`;
    let sent = 0;
    const call = async (path: string, opts: Parameters<typeof request>[1], expected?: number) => {
      sent++;
      const res = await request(`${g.url}${path}`, opts);
      if (expected !== undefined) assert.equal(res.status, expected, `${opts?.method ?? 'GET'} ${path}: ${res.text}`);
      return res;
    };
    const json = (token: string) => ({ ...bearer(token), 'content-type': 'application/json' });
    const graphql = (token: string, body: unknown, expected?: number) =>
      call('/graphql', { method: 'POST', headers: json(token), body: JSON.stringify(body) }, expected);

    // Valid calls, reads and writes.
    await call('/system/functions', { headers: bearer(valid) }, 200);
    await call('/system/functions', { headers: bearer(valid) }, 200);
    await call('/system/functions', {
      method: 'POST',
      headers: json(valid),
      body: JSON.stringify({ service: 'leaky', image: 'ghcr.io/x/leaky:1', envVars: { API_TOKEN: valid } }),
    }, 202);
    await call('/system/secrets', { method: 'POST', headers: json(valid), body: JSON.stringify({ name: 'db', value: secretValue }) }, 201);
    await call('/function/echo', { method: 'POST', headers: bearer(valid), body: `echo ${valid}` }, 200);
    // Refused tokens, of every kind.
    await call('/system/functions', { headers: bearer(keep(expiredToken(g.idp))) }, 401);
    await call('/system/functions', { headers: bearer(keep(foreignKeyToken(g.idp))) }, 401);
    const wrongAudience = keep(await g.idp.clientCredentialsToken({ resource: 'https://other-api.example' }));
    await call('/system/functions', { headers: bearer(wrongAudience) }, 401);
    const garbage = keep(`not-a-jwt-${randomBytes(12).toString('hex')}`);
    await call('/system/functions', { headers: bearer(garbage) }, 401);
    await call('/system/functions', { headers: { authorization: ADMIN_BASIC } }, 401);
    await call('/graphql', { method: 'POST', headers: json(keep(expiredToken(g.idp))), body: '{"query":"{ namespaces }"}' }, 401);
    // GraphQL: diagnostics of tokens given inline and as variables, and operations that fail.
    const diagnosed = await issue();
    const diagnosedExpired = keep(expiredToken(g.idp));
    await graphql(valid, { query: `{ tokenDiagnostics(token: "${diagnosed}") { valid reason subject } }` }, 200);
    await graphql(valid, {
      query: 'query D($t: String!) { tokenDiagnostics(token: $t) { valid reason checks { name passed detail } } }',
      variables: { t: diagnosedExpired },
    }, 200);
    await graphql(valid, { query: `{ tokenDiagnostics(token: "${diagnosed}") { noSuchField } }` });
    await graphql(valid, { query: `{ tokenDiagnostics(token: "${diagnosed}") { valid ` });
    // OpenFaaS refuses the admin credentials (rotated behind the gateway's back).
    g.openfaas.setCredentials(ADMIN_USER, 'rotated-elsewhere');
    try {
      const res = await call('/system/functions', { headers: bearer(valid) });
      assert.equal(res.status, 502, res.text);
    } finally {
      g.openfaas.setCredentials(ADMIN_USER, ADMIN_PASSWORD);
    }

    await waitUntil(() => accessLines(g.lines).length >= sent, 5000, {
      message: `expected ${sent} access lines, got ${accessLines(g.lines).length}`,
    });
    assert.ok(
      g.lines.some((l) => /credentials/i.test(l) && /"level":"(error|warn)"/.test(l)),
      'the refused admin credentials are reported (so the check below saw that path)',
    );
    const forbidden: Array<[string, string]> = [
      ...tokens.flatMap((t, i): Array<[string, string]> => [
        [`token #${i}`, t],
        [`signature of token #${i}`, t.split('.')[2] ?? t],
      ]),
      ['the admin password', ADMIN_PASSWORD],
      ['the admin Basic credentials', ADMIN_BASIC_B64],
      ['a secret value', secretValue],
    ];
    for (const line of g.lines) {
      for (const [what, secret] of forbidden) {
        assert.ok(!line.includes(secret), `${what} appears in a log line: ${line.slice(0, 300)}`);
      }
    }
  });
});
