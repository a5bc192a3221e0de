import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackServer, readBody, sendJson, sendText } from '../../../test/support/loopback-server';
import { FedgwError } from './fedgw-error';
import { GatewayClient } from './gateway-client';

describe(GatewayClient.name, () => {
  let server: LoopbackServer;
  const seen: Array<{ url?: string; authorization?: string; body: string }> = [];

  before(async () => {
    server = await LoopbackServer.start(async (req, res) => {
      const body = (await readBody(req)).toString('utf8');
      seen.push({ url: req.url, authorization: req.headers.authorization, body });
      const token = req.headers.authorization?.replace(/^Bearer /, '');
      if (req.url !== '/prefix/graphql') return sendText(res, 404, 'not found');
      if (token === 'expired') return sendJson(res, 401, { error: 'invalid_token', error_description: 'the token expired 3m ago' });
      if (token === 'slow') return;
      const { query } = JSON.parse(body) as { query: string };
      if (query.includes('broken')) return sendJson(res, 400, { errors: [{ message: 'Cannot query field "broken"', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
      return sendJson(res, 200, { data: { namespaces: ['openfaas-fn'] } });
    });
  });

  after(() => server.close());

  const client = (token: string, path = '/prefix/') => new GatewayClient({ gateway: `${server.url}${path}`, token });

  it('posts the document with the bearer token to <gateway>/graphql', async () => {
    assert.deepEqual(await client('good').query('{ namespaces }'), { namespaces: ['openfaas-fn'] });
    assert.deepEqual(seen.at(-1), { url: '/prefix/graphql', authorization: 'Bearer good', body: JSON.stringify({ query: '{ namespaces }' }) });
  });

  it("a refusal carries the gateway's error_description and status", async () => {
    await assert.rejects(client('expired').query('{ namespaces }'), (err: unknown) => {
      assert.ok(err instanceof FedgwError);
      assert.equal(err.status, 401);
      assert.equal(err.message, 'gateway refused (401 invalid_token): the token expired 3m ago');
      return true;
    });
  });

  it('GraphQL errors: request() returns them, query() throws them with their codes', async () => {
    const answer = await client('good').request('{ broken }');
    assert.equal(answer.errors?.[0]?.message, 'Cannot query field "broken"');
    await assert.rejects(client('good').query('{ broken }'), /gateway answered with errors: Cannot query field "broken" \(GRAPHQL_VALIDATION_FAILED\)/);
  });

  it('an answer that is not GraphQL names the status', async () => {
    await assert.rejects(client('good', '/elsewhere').query('{ namespaces }'), new RegExp(`gateway ${server.url}/elsewhere/graphql answered 404 without a GraphQL body`));
  });

  it('a signal that fires is a timeout', async () => {
    await assert.rejects(client('slow').query('{ namespaces }', undefined, AbortSignal.timeout(100)), (err: unknown) => err instanceof FedgwError && err.kind === 'timeout');
  });
});
