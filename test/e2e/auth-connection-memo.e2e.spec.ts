import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { TokenVerifierService } from '../../src/auth/token-verifier.service';
import { forgeCallerToken, forwarded, SYSTEM_PATH } from '../support/auth-fixtures';
import { request } from '../support/http-client';
import { JwksServer } from '../support/jwks-server';
import { waitUntil } from '../support/wait';
import { AUDIENCE, Harness } from './harness';

/**
 * A kept-alive connection remembers the verdict for the Authorization header it sent last, and
 * the gateway reuses it only while the token is unexpired (exp + clock_skew) and its key is still
 * held; any other header takes the normal path. Each test runs its requests over ONE connection
 * (checked by socket and local port) against the real gateway, IdP and OpenFaaS stand-in.
 */

interface Answer {
  status: number;
  text: string;
  socket: Socket;
  localPort: number;
}

/** One kept-alive connection to the gateway: an agent with keep-alive and a single socket. */
class KeptAlive {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  /** Every socket a response arrived on, in order (one, as long as the connection holds). */
  readonly sockets: Socket[] = [];

  constructor(private readonly base: string) {}

  send(path: string, authorization: string, opts: { method?: string; body?: string } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { authorization };
      if (opts.body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(opts.body));
      }
      const req = http.request(`${this.base}${path}`, { method: opts.method ?? 'GET', agent: this.agent, headers });
      req.setTimeout(5000, () => req.destroy(new Error(`no answer to ${path} within 5 s`)));
      req.on('error', reject);
      req.on('response', (res) => {
        // The agent takes the socket back once the body has ended: note it now.
        const socket = res.socket as Socket;
        const localPort = socket.localPort ?? 0;
        this.sockets.push(socket);
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), socket, localPort }));
      });
      req.end(opts.body);
    });
  }

  /** Asserts that every answer so far came over the same socket (and so the same local port). */
  assertOneConnection(answers: Answer[]): void {
    assert.ok(answers.length > 1);
    assert.equal(new Set(this.sockets).size, 1, `${new Set(this.sockets).size} connections were used`);
    const ports = answers.map((a) => a.localPort);
    assert.ok(ports[0]! > 0);
    assert.deepEqual(ports, ports.map(() => ports[0]), `local ports: ${ports.join(', ')}`);
  }

  close(): void {
    this.agent.destroy();
  }
}

const bearer = (token: string) => `Bearer ${token}`;

/** The token with one character in the middle of its signature changed (a forgery of the same header length). */
function tampered(token: string): string {
  const at = token.length - 20;
  const swapped = token[at] === 'A' ? 'B' : 'A';
  return `${token.slice(0, at)}${swapped}${token.slice(at + 1)}`;
}

function stats(verifier: TokenVerifierService): { hits: number; misses: number } {
  const { hits, misses } = verifier.cacheStats;
  return { hits, misses };
}

/** How the verifier's counters moved while `run` ran. */
async function counted(verifier: TokenVerifierService, run: () => Promise<unknown>): Promise<{ hits: number; misses: number }> {
  const before = stats(verifier);
  await run();
  const after = stats(verifier);
  return { hits: after.hits - before.hits, misses: after.misses - before.misses };
}

async function cacheMetric(h: Harness, name: 'hits' | 'misses'): Promise<number> {
  const res = await request(`http://127.0.0.1:${h.gateway.metricsPort}/metrics`);
  assert.equal(res.status, 200);
  const match = new RegExp(`^gateway_token_cache_${name}_total (\\d+)$`, 'm').exec(res.text);
  assert.ok(match, `gateway_token_cache_${name}_total is not exported`);
  return Number(match[1]);
}

/** The requests for SYSTEM_PATH that reached OpenFaaS since the last clearRequests(). */
const reached = (h: Harness) => forwarded(h.openfaas).filter((r) => r === `GET ${SYSTEM_PATH}`).length;

describe('auth memo per connection (token_cache_size=1, clock_skew=0s)', () => {
  let h: Harness;
  let verifier: TokenVerifierService;
  let conn: KeptAlive;
  before(async () => {
    h = await Harness.start({ env: { token_cache_size: '1', clock_skew: '0s' } });
    verifier = h.gateway.app.get(TokenVerifierService);
  });
  after(async () => {
    conn?.close();
    await h?.close();
  });

  const fresh = () => {
    conn?.close();
    conn = new KeptAlive(h.url);
    h.openfaas.clearRequests();
    return conn;
  };

  it('the same token twice on one connection: both reach OpenFaaS, the second is a cache hit (metrics too)', async () => {
    const c = fresh();
    const token = forgeCallerToken(h.idp);
    const [hitsBefore, missesBefore] = [await cacheMetric(h, 'hits'), await cacheMetric(h, 'misses')];
    const answers: Answer[] = [];
    const first = await counted(verifier, async () => answers.push(await c.send(SYSTEM_PATH, bearer(token))));
    assert.deepEqual(first, { hits: 0, misses: 1 }, 'the first use of a token is verified in full');
    const second = await counted(verifier, async () => answers.push(await c.send(SYSTEM_PATH, bearer(token))));
    assert.deepEqual(second, { hits: 1, misses: 0 }, 'the second use is a hit');
    assert.deepEqual(answers.map((a) => a.status), [200, 200], answers.map((a) => a.text).join('\n'));
    assert.equal(reached(h), 2, 'both requests reached OpenFaaS');
    c.assertOneConnection(answers);
    assert.equal(await cacheMetric(h, 'hits'), hitsBefore + 1, 'gateway_token_cache_hits_total');
    assert.equal(await cacheMetric(h, 'misses'), missesBefore + 1, 'gateway_token_cache_misses_total');
  });

  it('the connection keeps its verdict when the shared cache has evicted the token (another caller filled it)', async () => {
    const c = fresh();
    const mine = forgeCallerToken(h.idp);
    const answers = [await c.send(SYSTEM_PATH, bearer(mine))];
    // A one-entry cache: another caller's token, on another connection, evicts this one.
    const other = await counted(verifier, () => request(`${h.url}${SYSTEM_PATH}`, { headers: { authorization: bearer(forgeCallerToken(h.idp)) } }));
    assert.deepEqual(other, { hits: 0, misses: 1 });
    const again = await counted(verifier, async () => answers.push(await c.send(SYSTEM_PATH, bearer(mine))));
    assert.deepEqual(again, { hits: 1, misses: 0 }, 'the connection reused its verdict without the cache');
    assert.deepEqual(answers.map((a) => a.status), [200, 200]);
    c.assertOneConnection(answers);
    // Control: on a new connection the same token is not in the cache any more.
    const elsewhere = await counted(verifier, () => request(`${h.url}${SYSTEM_PATH}`, { headers: { authorization: bearer(mine) } }));
    assert.deepEqual(elsewhere, { hits: 0, misses: 1 }, 'the evicted token is verified again on another connection');
  });

  it('a valid token, then forgeries on the same connection: refused with 401, nothing upstream; the valid one passes again', async () => {
    const c = fresh();
    const token = forgeCallerToken(h.idp);
    const answers = [await c.send(SYSTEM_PATH, bearer(token))];
    assert.equal(answers[0]!.status, 200);
    assert.equal(reached(h), 1);

    const forgeries: Array<[string, string, RegExp]> = [
      ['one signature character changed', bearer(tampered(token)), /signature does not verify/],
      ['a real signature, the wrong audience', bearer(forgeCallerToken(h.idp, { aud: 'another-api' })), /audience is \["another-api"\]/],
      ['the same token with a trailing character', `${bearer(token)}x`, /./],
      ['the same token under another scheme', `Token ${token}`, /scheme/],
    ];
    for (const [label, authorization, reason] of forgeries) {
      const answer = await c.send(SYSTEM_PATH, authorization);
      answers.push(answer);
      assert.equal(answer.status, 401, `${label}: ${answer.text}`);
      assert.match(JSON.parse(answer.text).error_description, reason, label);
      assert.equal(reached(h), 1, `${label} reached OpenFaaS`);
    }
    const back = await counted(verifier, async () => answers.push(await c.send(SYSTEM_PATH, bearer(token))));
    assert.equal(answers.at(-1)!.status, 200);
    assert.deepEqual(back, { hits: 1, misses: 0 }, 'the valid token is still known');
    assert.equal(reached(h), 2);
    c.assertOneConnection(answers);
  });

  it('a token that expires while the connection stays open is refused after its exp on that connection', async () => {
    const c = fresh();
    // exp at a whole second between 0.5 s and 1.5 s from now; clock_skew is 0.
    const now = Date.now();
    const exp = Math.ceil((now + 500) / 1000);
    const token = forgeCallerToken(h.idp, { iat: Math.floor(now / 1000), exp });
    const answers = [await c.send(SYSTEM_PATH, bearer(token))];
    const second = await counted(verifier, async () => answers.push(await c.send(SYSTEM_PATH, bearer(token))));
    assert.ok(Date.now() < exp * 1000, 'the test machine was too slow to use the token before it expired');
    assert.deepEqual(answers.map((a) => a.status), [200, 200]);
    assert.deepEqual(second, { hits: 1, misses: 0 }, 'the verdict was reused before the expiry');

    await waitUntil(() => Date.now() >= exp * 1000 + 20, 3000);
    const late = await c.send(SYSTEM_PATH, bearer(token));
    answers.push(late);
    assert.equal(late.status, 401, late.text);
    assert.match(JSON.parse(late.text).error_description, /token expired/);
    assert.equal(reached(h), 2, 'the expired token did not reach OpenFaaS');
    c.assertOneConnection(answers);
  });

  it('the GraphQL door reuses the verdict a connection earned on the REST door, and refuses a forgery after it', async () => {
    const c = fresh();
    const token = forgeCallerToken(h.idp);
    const query = JSON.stringify({ query: '{ __typename }' });
    const answers = [await c.send(SYSTEM_PATH, bearer(token))];
    // Evict the token from the one-entry cache through another connection.
    await request(`${h.url}${SYSTEM_PATH}`, { headers: { authorization: bearer(forgeCallerToken(h.idp)) } });
    const viaGraphql = await counted(verifier, async () => answers.push(await c.send('/graphql', bearer(token), { method: 'POST', body: query })));
    assert.equal(answers.at(-1)!.status, 200, answers.at(-1)!.text);
    assert.deepEqual(JSON.parse(answers.at(-1)!.text), { data: { __typename: 'Query' } });
    assert.equal(viaGraphql.misses, 0, 'the door found the verdict on the connection, not by verifying again');
    assert.ok(viaGraphql.hits >= 1);
    const forged = await c.send('/graphql', bearer(tampered(token)), { method: 'POST', body: query });
    answers.push(forged);
    assert.equal(forged.status, 401, forged.text);
    assert.equal(JSON.parse(forged.text).error, 'invalid_token');
    c.assertOneConnection(answers);
  });
});

describe('auth memo per connection: the key that verified the token leaves the issuer', () => {
  let jwks: JwksServer;
  let h: Harness;
  let verifier: TokenVerifierService;
  let keep: string;
  let retire: string;
  let conn: KeptAlive;
  before(async () => {
    jwks = await JwksServer.start();
    keep = jwks.addKey().kid;
    retire = jwks.addKey({ alg: 'ES256' }).kid;
    h = await Harness.start({ issuer: jwks.issuer });
    verifier = h.gateway.app.get(TokenVerifierService);
    conn = new KeptAlive(h.url);
  });
  after(async () => {
    conn?.close();
    await h?.close();
    await jwks?.close();
  });

  it('a token accepted on the connection is refused there once a refresh has dropped its key; other keys pass', async () => {
    const issued = (kid: string) => jwks.sign({ aud: AUDIENCE, sub: 'memo', jti: randomBytes(8).toString('base64url') }, { kid });
    const token = issued(retire);
    h.openfaas.clearRequests();
    const answers = [await conn.send(SYSTEM_PATH, bearer(token))];
    const second = await counted(verifier, async () => answers.push(await conn.send(SYSTEM_PATH, bearer(token))));
    assert.deepEqual(answers.map((a) => a.status), [200, 200]);
    assert.deepEqual(second, { hits: 1, misses: 0 });

    jwks.removeKey(retire);
    await h.keys.refresh();
    assert.ok(!h.keys.status().keys.some((k) => k.kid === retire), 'the refresh dropped the removed key');
    const refused = await conn.send(SYSTEM_PATH, bearer(token));
    answers.push(refused);
    assert.equal(refused.status, 401, refused.text);
    assert.match(JSON.parse(refused.text).error_description, new RegExp(`kid "${retire}" is not among the issuer's signing keys`));
    assert.equal(reached(h), 2, 'the refused token did not reach OpenFaaS');

    const other = await conn.send(SYSTEM_PATH, bearer(issued(keep)));
    answers.push(other);
    assert.equal(other.status, 200, other.text);
    conn.assertOneConnection(answers);
  });
});

describe('auth memo per connection with token_cache_size=0', () => {
  let h: Harness;
  let verifier: TokenVerifierService;
  let conn: KeptAlive;
  before(async () => {
    h = await Harness.start({ env: { token_cache_size: '0' } });
    verifier = h.gateway.app.get(TokenVerifierService);
    conn = new KeptAlive(h.url);
  });
  after(async () => {
    conn?.close();
    await h?.close();
  });

  it('remembers nothing: every request on the connection is verified in full', async () => {
    const token = forgeCallerToken(h.idp);
    h.openfaas.clearRequests();
    const answers: Answer[] = [];
    const moved = await counted(verifier, async () => {
      for (let i = 0; i < 4; i++) answers.push(await conn.send(SYSTEM_PATH, bearer(token)));
    });
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200]);
    assert.deepEqual(moved, { hits: 0, misses: 4 });
    assert.equal(verifier.cacheStats.size, 0);
    assert.equal(reached(h), 4);
    conn.assertOneConnection(answers);
    assert.equal(await cacheMetric(h, 'hits'), 0);
  });
});
