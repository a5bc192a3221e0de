import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testConfig } from '../../test/support/auth-fixtures';
import { JwksServer } from '../../test/support/jwks-server';
import { generateSigningKey, randomKid } from '../../test/support/keys';
import { waitUntil } from '../../test/support/wait';
import { FetchLimits } from '../common/capped-fetch';
import { IDP_FETCH_LIMITS, IssuerKeys, KeyStoreStatus } from './issuer-keys';

/** Services made in a test, stopped after it. */
const services: IssuerKeys[] = [];

function service(jwks: JwksServer, env: Record<string, string> = {}, limits?: FetchLimits): IssuerKeys {
  const config = testConfig({ issuer: jwks.issuer, ...env });
  const keys = new IssuerKeys(config.issuers[0], { refreshMs: config.jwksRefreshMs, cooldownMs: config.jwksCooldownMs }, limits);
  services.push(keys);
  return keys;
}

const kids = (keys: IssuerKeys) => keys.status().keys.map((k) => k.kid);

describe('IssuerKeys against a controllable JWKS', () => {
  let jwks: JwksServer;
  let first: string;
  before(async () => {
    jwks = await JwksServer.start();
    first = jwks.addKey().kid;
  });
  after(async () => {
    for (const keys of services) keys.stop();
    await jwks.close();
  });

  it('start() fetches discovery, then the JWKS, and holds the keys', async () => {
    jwks.resetCounters();
    const keys = service(jwks);
    assert.equal(keys.ready, false);
    await keys.start();
    assert.equal(keys.ready, true);
    assert.deepEqual([jwks.discoveryFetches, jwks.jwksFetches], [1, 1]);
    assert.deepEqual(kids(keys), [first]);
    assert.equal(keys.status().jwksUri, jwks.jwksUri);
  });

  it('without a fetch-limits provider the defaults apply (5 s, 512 KiB)', () => {
    const keys = service(jwks);
    assert.deepEqual((keys as unknown as { fetchLimits: FetchLimits }).fetchLimits, IDP_FETCH_LIMITS);
    assert.deepEqual(IDP_FETCH_LIMITS, { timeoutMs: 5_000, maxBytes: 512 * 1024 });
  });

  it('issInternal: discovery and the JWKS are fetched at the in-cluster address, the public issuer still matched exactly', async () => {
    const publicIss = 'https://keycloak.example.invalid/realms/vendor';
    jwks.setDiscovery({ issuer: publicIss, jwks_uri: 'https://keycloak.example.invalid/jwks' });
    try {
      const config = testConfig({ issuer: jwks.issuer });
      const keys = new IssuerKeys({ ...config.issuers[0], iss: publicIss, fetchBase: jwks.issuer }, { refreshMs: config.jwksRefreshMs, cooldownMs: config.jwksCooldownMs });
      services.push(keys);
      jwks.resetCounters();
      await keys.refresh();
      assert.deepEqual([jwks.discoveryFetches, jwks.jwksFetches], [1, 1]);
      assert.equal(keys.status().jwksUri, jwks.jwksUri, 'the public jwks_uri, fetched at the in-cluster origin');
      assert.deepEqual(kids(keys), [first]);
    } finally {
      jwks.setDiscovery({});
    }
  });

  it('refresh() is single flight: 100 concurrent callers share one JWKS fetch', async () => {
    const keys = service(jwks);
    await keys.start();
    jwks.resetCounters();
    await Promise.all(Array.from({ length: 100 }, () => keys.refresh()));
    assert.equal(jwks.jwksFetches, 1);
    assert.equal(jwks.discoveryFetches, 0, 'discovery is not repeated');
  });

  it('5000 concurrent lookups of random kids cost one fetch; a held kid is answered without waiting for it', async () => {
    const keys = service(jwks);
    await keys.start();
    jwks.resetCounters();
    jwks.setMode('slow', { slowMs: 300, routes: 'jwks' });
    try {
      let floodSettled = false;
      const flood = Promise.all(Array.from({ length: 5000 }, () => keys.lookup(randomKid()))).finally(() => (floodSettled = true));
      const held = await keys.lookup(first);
      assert.ok('key' in held && held.key.kid === first);
      assert.equal(floodSettled, false, 'the held kid was answered while the flood still waited on the fetch');
      const results = await flood;
      assert.ok(results.every((r) => 'missing' in r && r.missing === 'unknown_kid'));
      assert.equal(jwks.jwksFetches, 1);
      const again = await Promise.all(Array.from({ length: 1000 }, () => keys.lookup(randomKid())));
      assert.ok(again.every((r) => 'missing' in r && r.missing === 'unknown_kid'));
      assert.equal(jwks.jwksFetches, 1, 'within the cooldown window unknown kids are refused without a fetch');
    } finally {
      jwks.setMode('ok');
    }
  });

  it('an unknown kid is remembered as a miss for the window; after it, one fetch finds a newly published key', async () => {
    const COOLDOWN_MS = 1000;
    const later = generateSigningKey('ES256', { kid: 'later' });
    const keys = service(jwks, { jwks_cooldown: `${COOLDOWN_MS}ms` });
    await keys.start();
    jwks.resetCounters();
    try {
      const windowStart = performance.now();
      const firstMiss = await keys.lookup('later');
      assert.ok('missing' in firstMiss && firstMiss.missing === 'unknown_kid');
      assert.equal(jwks.jwksFetches, 1, 'the first unknown kid is looked up at once');
      jwks.addRawJwk(later.publicJwk);
      const miss = await keys.lookup('later');
      assert.ok(performance.now() - windowStart < COOLDOWN_MS, 'still within the window');
      assert.ok('missing' in miss && miss.missing === 'unknown_kid', 'remembered as a miss within the window');
      assert.equal(jwks.jwksFetches, 1);
      const found = await waitUntil(async () => {
        const r = await keys.lookup('later');
        return 'key' in r ? r.key : undefined;
      }, COOLDOWN_MS + 3000);
      assert.equal(found.kid, 'later');
      assert.ok(performance.now() - windowStart >= COOLDOWN_MS - 20, 'not before the window ended');
      assert.equal(jwks.jwksFetches, 2, 'exactly one fetch after the window');
    } finally {
      jwks.removeKey('later');
    }
  });

  it('a token without kid gets the only key, and none when several are published', async () => {
    const single = service(jwks);
    await single.start();
    assert.equal(single.peek(undefined)?.kid, first);
    const extra = jwks.addKey({ alg: 'ES256' });
    try {
      await single.refresh();
      assert.equal(single.peek(undefined), undefined);
      const lookup = await single.lookup(undefined);
      assert.ok('missing' in lookup && lookup.missing === 'no_kid');
    } finally {
      jwks.removeKey(extra.kid);
    }
  });

  it('an unchanged key keeps its identity across refreshes; a republished kid with new material does not', async () => {
    const keys = service(jwks);
    await keys.start();
    const before = keys.peek(first);
    await keys.refresh();
    assert.equal(keys.peek(first), before, 'same object for the same key');
    try {
      const rotating = jwks.addKey({ alg: 'ES256', kid: 'rotating' });
      await keys.refresh();
      const old = keys.peek('rotating');
      assert.ok(old?.key.equals(rotating.publicKey));
      jwks.removeKey('rotating');
      jwks.addKey({ alg: 'ES256', kid: 'rotating' });
      await keys.refresh();
      assert.ok(keys.peek('rotating') && keys.peek('rotating') !== old);
      assert.ok(!keys.peek('rotating')?.key.equals(rotating.publicKey));
    } finally {
      jwks.removeKey('rotating');
    }
  });

  it('a slow JWKS is cut off by the fetch timeout; held keys stay', async () => {
    const keys = service(jwks, {}, { timeoutMs: 200, maxBytes: IDP_FETCH_LIMITS.maxBytes });
    await keys.start();
    jwks.setMode('slow', { slowMs: 10_000, routes: 'jwks' });
    try {
      const started = performance.now();
      await assert.rejects(keys.refresh(), /jwks did not answer within 200ms/);
      const took = performance.now() - started;
      assert.ok(took >= 150 && took < 2000, `the fetch was cut after ${took} ms`);
      assert.deepEqual(kids(keys), [first]);
      assert.match(keys.status().lastError ?? '', /did not answer within 200ms/);
    } finally {
      jwks.setMode('ok');
    }
  });

  it('a slow discovery at start is cut off too, and start() keeps retrying until it answers', async () => {
    jwks.setMode('slow', { slowMs: 10_000, routes: 'discovery' });
    const keys = service(jwks, { jwks_cooldown: '1s' }, { timeoutMs: 200, maxBytes: IDP_FETCH_LIMITS.maxBytes });
    try {
      const started = keys.start();
      const lastError = await waitUntil(() => keys.status().lastError, 3000);
      assert.match(lastError, /openid-configuration did not answer within 200ms/);
      assert.equal(keys.ready, false);
      jwks.setMode('ok');
      await started;
      assert.equal(keys.ready, true);
    } finally {
      jwks.setMode('ok');
    }
  });

  it('a huge JWKS is cut off at the size cap, streamed or declared; held keys stay', async () => {
    const keys = service(jwks, {}, { timeoutMs: 5_000, maxBytes: 64 * 1024 });
    await keys.start();
    jwks.setMode('huge', { hugeBytes: 64 * 1024 * 1024, routes: 'jwks' });
    try {
      const started = performance.now();
      await assert.rejects(keys.refresh(), /jwks sent more than the 65536 bytes allowed/);
      assert.ok(performance.now() - started < 2000);
      assert.deepEqual(kids(keys), [first]);
    } finally {
      jwks.setMode('ok');
    }
    // A normal document sent with Content-Length over a tiny cap is refused before its body is read.
    const tiny = service(jwks, { jwks_cooldown: '1s' }, { timeoutMs: 5_000, maxBytes: 100 });
    void tiny.start();
    const error = await waitUntil(() => tiny.status().lastError, 3000);
    assert.match(error, /openid-configuration sent \d+ bytes, more than the 100 allowed/);
    assert.equal(tiny.ready, false);
    tiny.stop();
  });

  it('down, refused, garbage: each refresh fails with its reason, keys stay, counts and listeners see every attempt', async () => {
    const keys = service(jwks);
    await keys.start();
    const seen: KeyStoreStatus[] = [];
    keys.onFetch((s) => seen.push(s));
    const cases = [
      ['down', /jwks answered HTTP 500/],
      ['refuse', /jwks could not be reached: connection reset/],
      ['garbage', /jwks did not answer with JSON/],
    ] as const;
    for (const [mode, error] of cases) {
      jwks.setMode(mode);
      try {
        await assert.rejects(keys.refresh(), error);
      } finally {
        jwks.setMode('ok');
      }
      assert.deepEqual(kids(keys), [first], `${mode}: held keys stay`);
    }
    await keys.refresh();
    assert.equal(seen.length, 4);
    assert.deepEqual(
      seen.map((s) => [s.fetches, s.failures, s.lastError === undefined]),
      [
        [2, 1, false],
        [3, 2, false],
        [4, 3, false],
        [5, 3, true],
      ],
    );
  });

  it('a JWKS without any usable key is a failed refresh: held keys stay', async () => {
    const own = await JwksServer.start();
    try {
      const kept = own.addKey().kid;
      const keys = service(own);
      await keys.start();
      own.removeKey(kept);
      own.addRawJwk({ kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' });
      await assert.rejects(keys.refresh(), /did not contain any signing keys/);
      assert.deepEqual(kids(keys), [kept]);
    } finally {
      await own.close();
    }
  });

  it('discovery naming another issuer, or no usable jwks_uri, is an error and no JWKS is fetched', async () => {
    for (const [extra, error] of [
      [{ issuer: 'https://evil.example' }, /names issuer "https:\/\/evil.example", not "http:\/\/127.0.0.1:\d+"/],
      [{ jwks_uri: 'file:///etc/passwd' }, /has no usable jwks_uri/],
      [{ jwks_uri: 42 }, /has no usable jwks_uri/],
    ] as const) {
      jwks.setDiscovery(extra);
      jwks.resetCounters();
      const keys = service(jwks);
      try {
        await assert.rejects(keys.refresh(), error);
        assert.equal(jwks.jwksFetches, 0);
        assert.equal(keys.ready, false);
      } finally {
        jwks.setDiscovery({});
      }
    }
  });
});
