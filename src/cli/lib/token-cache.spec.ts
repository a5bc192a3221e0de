import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE_MARGIN_MS, TokenCache, TokenIdentity } from './token-cache';

describe(TokenCache.name, () => {
  const root = mkdtempSync(join(tmpdir(), 'token-cache-spec-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const identity: TokenIdentity = { endpoint: 'https://idp.example.com/token', clientId: 'vendor', audience: 'gw' };
  let now = 1_000_000_000;
  const clock = () => now;

  it('keeps a token until CACHE_MARGIN_MS before it expires, never within it', async () => {
    const cache = new TokenCache(join(root, 'margin'), clock);
    await cache.put('a', identity, { accessToken: 'tok-1', expiresAt: now + CACHE_MARGIN_MS + 5_000 });
    assert.deepEqual(await cache.get('a', identity), { accessToken: 'tok-1', expiresAt: now + CACHE_MARGIN_MS + 5_000 });
    now += 4_999;
    assert.equal((await cache.get('a', identity))?.accessToken, 'tok-1');
    now += 1;
    assert.equal(await cache.get('a', identity), undefined);
  });

  it('does not store a token that would not outlive the margin', async () => {
    const dir = join(root, 'short');
    const cache = new TokenCache(dir, clock);
    await cache.put('a', identity, { accessToken: 'short', expiresAt: now + CACHE_MARGIN_MS });
    assert.equal(await cache.get('a', identity), undefined);
  });

  it('keys by cluster name and the whole identity', async () => {
    const cache = new TokenCache(join(root, 'keys'), clock);
    await cache.put('a', identity, { accessToken: 'for-a', expiresAt: now + 600_000 });
    assert.equal(await cache.get('b', identity), undefined);
    for (const changed of [{ audience: 'other' }, { scope: 's' }, { resource: 'https://r.example' }, { clientId: 'x' }, { endpoint: 'https://other/token' }]) {
      assert.equal(await cache.get('a', { ...identity, ...changed }), undefined, JSON.stringify(changed));
    }
    assert.equal((await cache.get('a', { ...identity }))?.accessToken, 'for-a');
  });

  it('makes the folder 0700 and files 0600 whatever the umask or the folder had', async () => {
    const dir = join(root, 'modes');
    mkdirSync(dir, { mode: 0o777 });
    chmodSync(dir, 0o777);
    const previous = process.umask(0o000);
    try {
      const cache = new TokenCache(dir, clock);
      await cache.put('a', identity, { accessToken: 'tok', expiresAt: now + 600_000 });
    } finally {
      process.umask(previous);
    }
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const files = readdirSync(dir);
    assert.equal(files.length, 1, 'no temporary file left behind');
    assert.equal(statSync(join(dir, files[0] as string)).mode & 0o777, 0o600);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(dir, files[0] as string), 'utf8')) as object).sort(), ['accessToken', 'expiresAt']);
  });

  it('treats an unreadable or malformed entry as absent', async () => {
    const cache = new TokenCache(join(root, 'broken'), clock);
    await cache.put('a', identity, { accessToken: 'tok', expiresAt: now + 600_000 });
    writeFileSync(cache.fileFor('a', identity), '{"accessToken": 5');
    assert.equal(await cache.get('a', identity), undefined);
  });
});
