import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { closedPort } from '../../test/support/http-client';
import { LoopbackServer, sendText } from '../../test/support/loopback-server';
import { fetchCapped, FetchFailure } from './capped-fetch';

const LIMITS = { timeoutMs: 300, maxBytes: 1024 };
const TLS_DIR = resolve(__dirname, '../../../test/fixtures/tls');

/** Rejects with a FetchFailure and returns it. */
async function failure(promise: Promise<unknown>): Promise<FetchFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof FetchFailure, String(err));
    return err;
  }
  assert.fail('the fetch succeeded');
}

describe('fetchCapped against real servers: every failure names its cause', () => {
  let http: LoopbackServer;
  let https: LoopbackServer;
  before(async () => {
    http = await LoopbackServer.start((req, res) => {
      if (req.url === '/ok') return sendText(res, 200, 'x'.repeat(1024));
      if (req.url === '/status') return sendText(res, 503, 'busy');
      if (req.url === '/declared') return sendText(res, 200, 'x'.repeat(2048));
      if (req.url === '/streamed') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < 8; i++) res.write('y'.repeat(512));
        return void res.end();
      }
      if (req.url === '/slow') return void setTimeout(() => sendText(res, 200, 'late'), 2000).unref();
      sendText(res, 404, 'no');
    });
    https = await LoopbackServer.start((_req, res) => sendText(res, 200, 'secret'), 0, {
      cert: readFileSync(resolve(TLS_DIR, 'cert.pem'), 'utf8'),
      key: readFileSync(resolve(TLS_DIR, 'key.pem'), 'utf8'),
    });
  });
  after(async () => {
    await http.close();
    await https.close();
  });

  it('reads a body of exactly the cap', async () => {
    const res = await fetchCapped(`${http.url}/ok`, {}, LIMITS);
    assert.deepEqual([res.ok, res.status, res.body.length], [true, 200, 1024]);
  });

  it('returns an HTTP error status for the caller to judge', async () => {
    const res = await fetchCapped(`${http.url}/status`, {}, LIMITS);
    assert.deepEqual([res.ok, res.status, res.body], [false, 503, '']);
  });

  it('refuses a body over the cap, declared or streamed', async () => {
    const declared = await failure(fetchCapped(`${http.url}/declared`, {}, LIMITS));
    assert.equal(declared.kind, 'too_large');
    assert.match(declared.message, /\/declared sent 2048 bytes, more than the 1024 allowed/);
    const streamed = await failure(fetchCapped(`${http.url}/streamed`, {}, LIMITS));
    assert.equal(streamed.kind, 'too_large');
    assert.match(streamed.message, /\/streamed sent more than the 1024 bytes allowed/);
  });

  it('a server that does not answer in time: timeout', async () => {
    const err = await failure(fetchCapped(`${http.url}/slow`, {}, LIMITS));
    assert.equal(err.kind, 'timeout');
    assert.match(err.message, /\/slow did not answer within 300ms$/);
  });

  it('a closed port: connection refused', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/x`;
    const err = await failure(fetchCapped(url, {}, LIMITS));
    assert.equal(err.kind, 'unreachable');
    assert.equal(err.message, `${url} could not be reached: connection refused (ECONNREFUSED)`);
  });

  it('a certificate nobody vouches for: the TLS handshake failed, with its code', async () => {
    const err = await failure(fetchCapped(`${https.url}/x`, {}, LIMITS));
    assert.equal(err.kind, 'unreachable');
    assert.match(err.message, /could not be reached: TLS handshake failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)$/);
  });
});
