import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { TokenVerifierService } from '../../src/auth/token-verifier.service';
import { Harness } from './harness';
import { rawHttp, request } from '../support/http-client';

/**
 * Every door, every spelling (security.md): only the exact origin-form targets /graphql and
 * /healthz reach Nest; every other spelling a router might fold onto them (sub-paths, trailing
 * slashes, case, absolute form, encoded characters) is a 404 answered before any framework code,
 * with or without a token. A real gateway; the proof that Apollo never ran is that
 * `{ __typename }` is not answered, and that the 404 is the gateway's JSON.
 */
describe('the public port: every spelling of a Nest route other than the exact one is a 404', () => {
  let h: Harness;
  let token: string;
  before(async () => {
    h = await Harness.start({ env: { graphql_introspection: 'false' } });
    token = await h.token();
  });
  after(() => h?.close());

  const query = encodeURIComponent('{__typename}');
  const spellings = ['/graphql/x', '/graphql/', '/graphql/.', '/GRAPHQL', '/GraphQL', '/graphql%2F', '/%67raphql', '/graphql;x', '//graphql', '/healthz/', '/HEALTHZ', '/metrics', '/'];

  for (const withToken of [false, true]) {
    it(`GET and POST of ${spellings.length} spellings answer 404 JSON ${withToken ? 'with' : 'without'} a token, and GraphQL never runs`, async () => {
      for (const path of spellings) {
        for (const method of ['GET', 'POST']) {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (withToken) headers.authorization = `Bearer ${token}`;
          const res = await request(`${h.url}${path}?query=${query}`, { method, headers, body: method === 'POST' ? JSON.stringify({ query: '{ __typename }' }) : undefined });
          assert.equal(res.status, 404, `${method} ${path}: ${res.status} ${res.text}`);
          assert.equal((res.json() as { error: string }).error, 'not_found', `${method} ${path}`);
          assert.doesNotMatch(res.text, /__typename|Query/, `${method} ${path} reached GraphQL`);
        }
      }
    });
  }

  it('absolute-form request targets (GET http://host/graphql/x, POST http://host/graphql) are 404 before any framework code', async () => {
    for (const [method, target] of [
      ['GET', `http://127.0.0.1:${h.gateway.port}/graphql/x?query=${query}`],
      ['POST', `http://127.0.0.1:${h.gateway.port}/graphql`],
      ['GET', `http://127.0.0.1:${h.gateway.port}/healthz`],
    ]) {
      const body = method === 'POST' ? '{"query":"{ __typename }"}' : '';
      const out = await rawHttp(
        '127.0.0.1',
        h.gateway.port,
        `${method} ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      assert.match(out, /^HTTP\/1\.1 404 /, `${method} ${target}: ${out.slice(0, 200)}`);
      assert.doesNotMatch(out, /__typename/, `${method} ${target} reached GraphQL`);
    }
  });

  it('the exact spellings still work: POST /graphql with a token, GET /healthz without', async () => {
    const gql = await request(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    assert.equal(gql.status, 200, gql.text);
    assert.deepEqual(gql.json(), { data: { __typename: 'Query' } });
    const health = await request(`${h.url}/healthz`);
    assert.equal(health.status, 200, health.text);
  });

  it('a GraphQL request is verified once, at the door: three resolvers, one key lookup', async () => {
    const verifier = h.gateway.app.get(TokenVerifierService);
    const keyFor = mock.method(verifier, 'keyFor');
    try {
      const res = await request(`${h.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ namespaces a: namespaces b: namespaces }' }),
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(keyFor.mock.callCount(), 1);
    } finally {
      keyFor.mock.restore();
    }
  });

  it('with introspection off, a misspelt field gets no "Did you mean" hint about the schema', async () => {
    const res = await request(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ gatewayStatu { version } }' }),
    });
    assert.equal(res.status, 400, res.text);
    const body = res.json() as { errors: Array<{ message: string }> };
    assert.ok(body.errors.length > 0, res.text);
    assert.doesNotMatch(res.text, /Did you mean/i);
    assert.doesNotMatch(res.text, /gatewayStatus/, 'the error names the real field');
  });
});

describe('with introspection on, the hints stay (they help the people allowed to see the schema)', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ env: { graphql_introspection: 'true' } });
  });
  after(() => h?.close());

  it('a misspelt field is answered with a "Did you mean" hint', async () => {
    const res = await request(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await h.token()}` },
      body: JSON.stringify({ query: '{ gatewayStatu { version } }' }),
    });
    assert.equal(res.status, 400, res.text);
    assert.match((res.json() as { errors: Array<{ message: string }> }).errors[0]!.message, /Did you mean "gatewayStatus"/);
  });
});
