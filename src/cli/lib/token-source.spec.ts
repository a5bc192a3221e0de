import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackServer, readBody, sendJson, sendText } from '../../../test/support/loopback-server';
import { closedPort } from '../../../test/support/http-client';
import { FedgwError } from './fedgw-error';
import { TokenSource } from './token-source';

describe(TokenSource.name, () => {
  let idp: LoopbackServer;
  const forms: URLSearchParams[] = [];

  before(async () => {
    // Auth0-shaped: the issuer ends in a slash, expires_in comes as a string (as Entra v1 sends it).
    idp = await LoopbackServer.start(async (req, res) => {
      if (req.url === '/tenant/.well-known/openid-configuration') return sendJson(res, 200, { issuer: `${idp.url}/tenant/`, token_endpoint: `${idp.url}/tenant/oauth/token` });
      if (req.url === '/broken/.well-known/openid-configuration') return sendText(res, 200, 'not json');
      if (req.url === '/tenant/oauth/token') {
        const form = new URLSearchParams((await readBody(req)).toString('utf8'));
        forms.push(form);
        if (form.get('client_secret') !== 'right') return sendJson(res, 401, { error: 'access_denied', error_description: 'Unauthorized' });
        return sendJson(res, 200, { access_token: 'opaque-token', token_type: 'Bearer', expires_in: '3599' });
      }
      return sendText(res, 404, 'no');
    });
  });

  after(() => idp.close());

  it('discovers the token endpoint from an issuer with a trailing slash and sends audience', async () => {
    const source = new TokenSource({ issuer: `${idp.url}/tenant/`, clientId: 'm2m', clientSecret: async () => 'right', audience: 'https://gw.customer-a' });
    const before = Date.now();
    const token = await source.token();
    assert.equal(token.accessToken, 'opaque-token');
    assert.equal(token.fromCache, false);
    assert.ok((token.expiresAt as number) >= before + 3_599_000 && (token.expiresAt as number) <= Date.now() + 3_599_000);
    const form = forms.at(-1) as URLSearchParams;
    assert.deepEqual(Object.fromEntries(form), { grant_type: 'client_credentials', client_id: 'm2m', client_secret: 'right', audience: 'https://gw.customer-a' });
  });

  it('a refusal carries the OAuth error and description, with the status', async () => {
    const source = new TokenSource({ tokenUrl: `${idp.url}/tenant/oauth/token`, clientId: 'm2m', clientSecret: 'wrong' });
    await assert.rejects(source.token(), (err: unknown) => {
      assert.ok(err instanceof FedgwError);
      assert.equal(err.kind, 'token');
      assert.equal(err.status, 401);
      assert.equal(err.message, `token endpoint ${idp.url}/tenant/oauth/token refused: 401 access_denied: Unauthorized`);
      return true;
    });
  });

  it('names discovery failures: not JSON, unreachable', async () => {
    await assert.rejects(new TokenSource({ issuer: `${idp.url}/broken`, clientId: 'c', clientSecret: 's' }).token(), /OIDC discovery .*\/broken\/\.well-known\/openid-configuration names no token_endpoint/);
    const port = await closedPort();
    await assert.rejects(new TokenSource({ issuer: `http://127.0.0.1:${port}`, clientId: 'c', clientSecret: 's' }).token(), new RegExp(`unreachable: connection refused \\(ECONNREFUSED\\)`));
  });

  it('an aborted signal is a timeout naming the step', async () => {
    const source = new TokenSource({ tokenUrl: `${idp.url}/tenant/oauth/token`, clientId: 'm2m', clientSecret: 'right' });
    await assert.rejects(source.token({ signal: AbortSignal.abort() }), (err: unknown) => err instanceof FedgwError && err.kind === 'timeout' && /requesting a token/.test(err.message));
  });
});
