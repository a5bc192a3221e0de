import 'reflect-metadata';
import { describe, it, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIENCE } from '../../test/e2e/harness';
import { testConfig } from '../../test/support/auth-fixtures';
import { generateSigningKey, SigningKey as TestKey } from '../../test/support/keys';
import { signCompact } from '../../test/support/tokens';
import { GatewayError } from '../common/gateway-error';
import { IssuerSettings } from '../config/gateway-config';
import { KeyLookup, SigningKey } from './issuer-keys';
import { SigningKeysService } from './signing-keys.service';
import { TokenCache } from './token-cache';
import { TokenVerifierService } from './token-verifier.service';

const ISSUER = 'https://idp.example/realms/unit';

/** One issuer's key store under the test's control: no network, lookups count. */
class StubKeys {
  readonly held = new Map<string, SigningKey>();
  lookups = 0;

  constructor(readonly settings: IssuerSettings) {}

  /** As SigningKeysService answers: this key set for its own issuer only. */
  forIssuer(iss: unknown): StubKeys | undefined {
    return iss === this.settings.iss ? this : undefined;
  }

  all(): StubKeys[] {
    return [this];
  }

  publish(key: TestKey): void {
    const details = key.publicKey.asymmetricKeyDetails;
    this.held.set(key.kid, {
      kid: key.kid,
      alg: key.alg,
      kty: key.alg.startsWith('ES') ? 'EC' : 'RSA',
      curve: details?.namedCurve,
      modulusBits: details?.modulusLength,
      key: key.publicKey,
    });
  }

  peek(kid: string | undefined): SigningKey | undefined {
    return kid === undefined ? undefined : this.held.get(kid);
  }

  async lookup(kid: string | undefined): Promise<KeyLookup> {
    this.lookups++;
    const key = this.peek(kid);
    return key ? { key } : { missing: 'unknown_kid', detail: `kid "${kid}" is not among the issuer's signing keys` };
  }
}

function setup(env: Record<string, string> = {}) {
  const config = testConfig({ issuer: ISSUER, clock_skew: '0s', ...env });
  const keys = new StubKeys(config.issuers[0]);
  const verifier = new TokenVerifierService(config, keys as unknown as SigningKeysService);
  return { keys, verifier };
}

let nowMs = Date.UTC(2030, 0, 1);
function freezeClock(ms: number): void {
  nowMs = ms;
  mock.method(Date, 'now', () => nowMs);
}

function token(key: TestKey, claims: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return signCompact({
    header: { alg: key.alg, typ: 'at+jwt', kid: key.kid },
    payload: { iss: ISSUER, aud: AUDIENCE, sub: 'unit', iat: now, exp: now + 60, ...claims },
    key: key.privateKey,
  });
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err;
  }
  assert.fail('the token was accepted');
}

const rsa = generateSigningKey('RS256', { kid: 'rsa' });
const ec = generateSigningKey('ES256', { kid: 'ec' });

describe('TokenVerifierService and its verified-token cache', () => {
  afterEach(() => mock.restoreAll());

  it('each authentication counts exactly one cache miss or one cache hit', async () => {
    const { keys, verifier } = setup();
    keys.publish(rsa);
    const t = token(rsa);
    await verifier.authenticate(`Bearer ${t}`);
    assert.deepEqual(verifier.cacheStats, { hits: 0, misses: 1, size: 1 });
    const again = verifier.authenticate(`Bearer ${t}`);
    assert.ok(!(again instanceof Promise), 'a cached verdict is returned synchronously');
    assert.deepEqual(verifier.cacheStats, { hits: 1, misses: 1, size: 1 });
    await verifier.verify(t);
    assert.deepEqual(verifier.cacheStats, { hits: 2, misses: 1, size: 1 });
  });

  it('a cache hit does no key lookup or signature work', async () => {
    const { keys, verifier } = setup();
    keys.publish(rsa);
    const t = token(rsa);
    await verifier.verify(t);
    const lookups = keys.lookups;
    for (let i = 0; i < 10; i++) await verifier.verify(t);
    assert.equal(keys.lookups, lookups);
  });

  it('stores a SHA-256 of the token as the key, never the token', async () => {
    const { keys, verifier } = setup();
    keys.publish(rsa);
    const t = token(rsa);
    await verifier.verify(t);
    const entries = (verifier as unknown as { cache: { entries: Map<string, unknown> } }).cache.entries;
    assert.deepEqual([...entries.keys()], [TokenCache.keyOf(t)]);
    assert.ok(![...entries.keys()].some((k) => k.includes(t.split('.')[2] as string)));
  });

  it('a cached token lapses at exp (plus clock_skew) and is then refused as expired', async () => {
    freezeClock(Date.UTC(2030, 0, 1));
    const { keys, verifier } = setup({ clock_skew: '5s' });
    keys.publish(ec);
    const exp = Math.floor(nowMs / 1000) + 60;
    const t = token(ec, { exp });
    await verifier.verify(t);
    nowMs = (exp + 5) * 1000 - 1;
    assert.ok(!(verifier.authenticate(`Bearer ${t}`) instanceof Promise), 'still cached 1 ms before exp + skew');
    nowMs = (exp + 5) * 1000;
    const err = await refusal(Promise.resolve().then(() => verifier.authenticate(`Bearer ${t}`)));
    assert.equal(err.reason, 'expired');
    assert.equal(verifier.cacheStats.size, 0);
  });

  it('a cached token is dropped as soon as its key leaves the key set', async () => {
    const { keys, verifier } = setup();
    keys.publish(rsa);
    keys.publish(ec);
    const t = token(rsa);
    await verifier.verify(t);
    keys.held.delete('rsa');
    const err = await refusal(verifier.verify(t));
    assert.equal(err.reason, 'unknown_kid');
    assert.equal(err.code, 'invalid_token');
  });

  it('a cached token is dropped when its kid is republished with other key material', async () => {
    const { keys, verifier } = setup();
    keys.publish(rsa);
    const t = token(rsa);
    await verifier.verify(t);
    keys.publish(generateSigningKey('RS256', { kid: 'rsa' }));
    const err = await refusal(verifier.verify(t));
    assert.equal(err.reason, 'bad_signature');
  });

  it('a refused token is never cached: validly signed but wrong audience, then asked again', async () => {
    const { keys, verifier } = setup();
    keys.publish(rsa);
    const t = token(rsa, { aud: 'other' });
    for (let i = 0; i < 3; i++) assert.equal((await refusal(verifier.verify(t))).reason, 'wrong_audience');
    assert.equal(verifier.cacheStats.size, 0);
    assert.equal(verifier.cacheStats.hits, 0);
  });

  it('a token whose nbf has not come yet is refused, not cached, and passes once nbf comes', async () => {
    freezeClock(Date.UTC(2030, 0, 1));
    const { keys, verifier } = setup();
    keys.publish(rsa);
    const nbf = Math.floor(nowMs / 1000) + 10;
    const t = token(rsa, { nbf });
    assert.equal((await refusal(verifier.verify(t))).reason, 'not_yet_valid');
    assert.equal(verifier.cacheStats.size, 0);
    nowMs = nbf * 1000;
    assert.equal((await verifier.verify(t)).subject, 'unit');
  });

  it('token_cache_size bounds the entries; 0 turns the cache off', async () => {
    const bounded = setup({ token_cache_size: '2' });
    bounded.keys.publish(rsa);
    for (let i = 0; i < 5; i++) await bounded.verifier.verify(token(rsa, { jti: `t${i}` }));
    assert.equal(bounded.verifier.cacheStats.size, 2);

    const off = setup({ token_cache_size: '0' });
    off.keys.publish(rsa);
    const t = token(rsa);
    await off.verifier.verify(t);
    await off.verifier.verify(t);
    assert.deepEqual(off.verifier.cacheStats, { hits: 0, misses: 2, size: 0 });
  });

  it('keys_unavailable maps to a 503 code, other key failures to invalid_token', async () => {
    const { verifier } = setup();
    const config = testConfig({ issuer: ISSUER });
    const keys = new StubKeys(config.issuers[0]);
    keys.lookup = async () => ({ missing: 'keys_unavailable', detail: 'no signing keys have been loaded from the issuer yet' });
    const noKeys = new TokenVerifierService(config, keys as unknown as SigningKeysService);
    const err = await refusal(noKeys.verify(token(rsa)));
    assert.equal(err.code, 'keys_unavailable');
    assert.equal(err.status, 503);
    assert.equal((await refusal(verifier.verify(token(rsa)))).code, 'invalid_token');
  });

  it('the verified token carries subject, client, issuer, audiences, expiry and kid', async () => {
    const { keys, verifier } = setup();
    keys.publish(ec);
    const t = token(ec, { sub: 'svc', azp: 'client-a', client_id: 'client-b', aud: ['x', AUDIENCE] });
    const v = await verifier.verify(t);
    assert.equal(v.subject, 'svc');
    assert.equal(v.clientId, 'client-a', 'azp is preferred');
    assert.equal(v.issuer, ISSUER);
    assert.deepEqual(v.audiences, ['x', AUDIENCE]);
    assert.equal(v.kid, 'ec');
    assert.equal(typeof v.expiresAt, 'number');
    assert.ok(Object.isFrozen(v));
  });
});
