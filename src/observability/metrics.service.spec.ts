import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { KeyStoreStatus } from '../auth/issuer-keys';
import type { SigningKeysService } from '../auth/signing-keys.service';
import type { TokenVerifierService } from '../auth/token-verifier.service';
import { createRegistry, MetricsService } from './metrics.service';

/** A MetricsService over stand-ins for the key store and the verifier it reads at scrape time. */
function setup() {
  const registry = new Registry();
  const state = { keys: [{ kid: 'a' }] as unknown[], lastRefreshedAt: new Date(5_000) as Date | undefined };
  const cache = { hits: 0, misses: 0, size: 0 };
  const listeners: Array<(status: KeyStoreStatus) => void> = [];
  const issuer = { settings: { name: 'env' }, status: () => ({ keys: state.keys, lastRefreshedAt: state.lastRefreshedAt }) };
  const keys = {
    all: () => [issuer],
    onFetch: (listener: (status: KeyStoreStatus) => void) => listeners.push(listener),
  } as unknown as SigningKeysService;
  const verifier = { get cacheStats() { return cache; } } as unknown as TokenVerifierService;
  const metrics = new MetricsService(registry, keys, verifier);
  const fetched = (lastError?: string) => listeners.forEach((l) => l({ name: 'env', lastError } as KeyStoreStatus));
  const values = async (name: string) => {
    const metric = registry.getSingleMetric(name);
    assert.ok(metric, `${name} is registered`);
    return (await metric.get()).values.map((v) => ({ labels: { ...v.labels }, value: v.value }));
  };
  return { registry, metrics, state, cache, fetched, values };
}

describe(MetricsService.name, () => {
  it('counts requests by route class, method and status', async () => {
    const { metrics, values } = setup();
    metrics.request('system', 'GET', 200);
    metrics.request('system', 'GET', 200);
    metrics.request('function', 'POST', 403);
    assert.deepEqual(await values('gateway_http_requests_total'), [
      { labels: { route: 'system', method: 'GET', status: '200' }, value: 2 },
      { labels: { route: 'function', method: 'POST', status: '403' }, value: 1 },
    ]);
  });

  it('folds unknown or missing methods into "other", so callers cannot mint label values', async () => {
    const { metrics, values } = setup();
    metrics.request('other', 'BREW', 404);
    metrics.request('other', 'get', 404);
    metrics.request('other', undefined, 400);
    const methods = (await values('gateway_http_requests_total')).map((v) => v.labels.method);
    assert.deepEqual([...new Set(methods)], ['other']);
  });

  it('counts authentication failures by reason', async () => {
    const { metrics, values } = setup();
    metrics.authFailure('expired');
    metrics.authFailure('expired');
    metrics.authFailure('missing_token');
    assert.deepEqual(await values('gateway_auth_failures_total'), [
      { labels: { reason: 'expired' }, value: 2 },
      { labels: { reason: 'missing_token' }, value: 1 },
    ]);
  });

  it('observes upstream latency in a histogram by route class', async () => {
    const { metrics, values } = setup();
    metrics.upstreamResponded('system', 0.003);
    metrics.upstreamResponded('system', 0.2);
    const all = await values('gateway_upstream_response_seconds');
    const count = all.find((v) => v.labels.route === 'system' && !('le' in v.labels) && v.value === 2);
    assert.ok(count, JSON.stringify(all));
    const inf = all.find((v) => v.labels.le === '+Inf');
    assert.equal(inf?.value, 2);
    const first = all.find((v) => v.labels.le === 0.005);
    assert.equal(first?.value, 1, 'the 3 ms answer falls in the first bucket, the 200 ms one does not');
  });

  it('counts JWKS fetches by issuer and outcome', async () => {
    const { fetched, values } = setup();
    fetched();
    fetched();
    fetched('ECONNREFUSED');
    assert.deepEqual(await values('gateway_jwks_fetches_total'), [
      { labels: { issuer: 'env', outcome: 'success' }, value: 2 },
      { labels: { issuer: 'env', outcome: 'failure' }, value: 1 },
    ]);
  });

  it('reads the signing keys held and the last refresh at scrape time', async () => {
    const { state, values } = setup();
    assert.deepEqual((await values('gateway_signing_keys'))[0], { labels: { issuer: 'env' }, value: 1 });
    assert.equal((await values('gateway_signing_keys_last_refresh_timestamp_seconds'))[0]?.value, 5);
    state.keys = [{ kid: 'a' }, { kid: 'b' }];
    state.lastRefreshedAt = undefined;
    assert.equal((await values('gateway_signing_keys'))[0]?.value, 2);
    assert.equal((await values('gateway_signing_keys_last_refresh_timestamp_seconds'))[0]?.value, 0);
  });

  it('reports the verified-token cache hits and misses as the verifier counts them', async () => {
    const { cache, values } = setup();
    cache.misses = 1;
    assert.deepEqual([(await values('gateway_token_cache_hits_total'))[0]?.value, (await values('gateway_token_cache_misses_total'))[0]?.value], [0, 1]);
    cache.hits = 3;
    assert.deepEqual([(await values('gateway_token_cache_hits_total'))[0]?.value, (await values('gateway_token_cache_misses_total'))[0]?.value], [3, 1]);
  });

  it('createRegistry includes the default process metrics, per registry', async () => {
    const a = await createRegistry().metrics();
    const b = await createRegistry().metrics();
    for (const text of [a, b]) {
      assert.match(text, /^process_cpu_user_seconds_total /m);
      assert.match(text, /^nodejs_heap_size_total_bytes /m);
    }
  });
});
