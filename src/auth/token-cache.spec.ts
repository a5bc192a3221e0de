import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, KeyObject } from 'node:crypto';
import { TokenCache } from './token-cache';
import { VerifiedToken } from './verified-token';

const keyA = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
const keyB = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;

function verified(subject: string, kid = 'kid-a'): VerifiedToken {
  return Object.freeze({
    subject,
    clientId: 'client',
    issuer: 'https://issuer.example',
    audiences: ['openfaas-gateway'],
    expiresAt: 2_000_000_000,
    kid,
    claims: { sub: subject },
  });
}

/** A key set in which `held` maps kids to the KeyObject currently published. */
function keySet(held: Map<string, KeyObject>) {
  return (token: VerifiedToken, key: KeyObject) => token.kid !== undefined && held.get(token.kid) === key;
}

const always = () => true;

describe('TokenCache', () => {
  it('keys entries by a SHA-256 of the token, never the token itself', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
    const hash = TokenCache.keyOf(token);
    assert.equal(hash, createHash('sha256').update(token).digest('base64'));
    assert.ok(!hash.includes(token) && !token.includes(hash));
    assert.notEqual(TokenCache.keyOf(`${token}x`), hash);
    assert.equal(TokenCache.keyOf(token), hash, 'stable for the same token');
  });

  it('returns a stored token until its validity ends, counting hits and misses', () => {
    const cache = new TokenCache(10);
    const token = verified('alice');
    assert.equal(cache.get('h1', 0, always), undefined);
    cache.set('h1', token, keyA, 1_000);
    assert.equal(cache.get('h1', 999, always), token);
    assert.deepEqual([cache.hits, cache.misses], [1, 1]);
  });

  it('an entry lapses at its validity end (exp plus skew) and is removed', () => {
    const cache = new TokenCache(10);
    cache.set('h1', verified('alice'), keyA, 1_000);
    assert.equal(cache.get('h1', 1_000, always), undefined);
    assert.equal(cache.size, 0, 'the lapsed entry is dropped');
    assert.equal(cache.get('h1', 0, always), undefined, 'and does not come back for an earlier clock');
  });

  it('an entry lapses as soon as the key that verified it is no longer held', () => {
    const held = new Map([['kid-a', keyA]]);
    const cache = new TokenCache(10);
    const token = verified('alice', 'kid-a');
    cache.set('h1', token, keyA, 10_000);
    assert.equal(cache.get('h1', 0, keySet(held)), token);
    held.delete('kid-a');
    assert.equal(cache.get('h1', 0, keySet(held)), undefined);
    assert.equal(cache.size, 0);
    held.set('kid-a', keyA);
    assert.equal(cache.get('h1', 0, keySet(held)), undefined, 'gone for good, even if the key returns');
  });

  it('an entry lapses when its kid is republished with other key material (key identity, not kid)', () => {
    const held = new Map([['kid-a', keyA]]);
    const cache = new TokenCache(10);
    cache.set('h1', verified('alice', 'kid-a'), keyA, 10_000);
    held.set('kid-a', keyB);
    assert.equal(cache.get('h1', 0, keySet(held)), undefined);
  });

  it('is bounded: the oldest entry goes first, however often it was used', () => {
    const cache = new TokenCache(3);
    for (const name of ['a', 'b', 'c']) cache.set(name, verified(name), keyA, 10_000);
    assert.equal(cache.get('a', 0, always)?.subject, 'a', 'a hit does not move a');
    cache.set('d', verified('d'), keyA, 10_000);
    assert.equal(cache.size, 3);
    assert.equal(cache.get('a', 0, always), undefined, 'a, the oldest, was evicted');
    for (const name of ['b', 'c', 'd']) assert.equal(cache.get(name, 0, always)?.subject, name);
  });

  it('stays bounded under many distinct tokens', () => {
    const cache = new TokenCache(100);
    for (let i = 0; i < 10_000; i++) cache.set(`h${i}`, verified(`s${i}`), keyA, 10_000);
    assert.equal(cache.size, 100);
    assert.equal(cache.get('h9999', 0, always)?.subject, 's9999');
    assert.equal(cache.get('h0', 0, always), undefined);
  });

  it('setting the same hash again replaces the entry without growing', () => {
    const cache = new TokenCache(2);
    cache.set('h', verified('old'), keyA, 10_000);
    cache.set('h', verified('new'), keyB, 20_000);
    assert.equal(cache.size, 1);
    assert.equal(cache.get('h', 15_000, always)?.subject, 'new');
  });

  it('a size of 0 turns the cache off', () => {
    const cache = new TokenCache(0);
    cache.set('h', verified('alice'), keyA, 10_000);
    assert.equal(cache.size, 0);
    assert.equal(cache.get('h', 0, always), undefined);
  });

  it('clear() drops everything', () => {
    const cache = new TokenCache(5);
    cache.set('h', verified('alice'), keyA, 10_000);
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.get('h', 0, always), undefined);
  });
});
