import 'reflect-metadata';
import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Controller, Get, INestApplication, Post, Req } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { AUDIENCE } from '../../test/e2e/harness';
import { goodClaims, testConfig } from '../../test/support/auth-fixtures';
import { HttpResponse, request } from '../../test/support/http-client';
import { TestIdentityProvider } from '../../test/support/identity-provider';
import { generateSigningKey } from '../../test/support/keys';
import { nowSeconds, signCompact } from '../../test/support/tokens';
import { GatewayExceptionFilter } from '../http/gateway-exception.filter';
import { ConfigModule } from '../config/config.module';
import { AuthModule } from './auth.module';
import { Public } from './public.decorator';
import { SigningKeysService } from './signing-keys.service';
import { TokenVerifierService } from './token-verifier.service';
import { VerifiedToken } from './verified-token';

let handlerCalls = 0;

@Controller()
class UnmarkedController {
  @Get('private')
  private(@Req() req: { user?: VerifiedToken }) {
    handlerCalls++;
    return { subject: req.user?.subject, clientId: req.user?.clientId, audiences: req.user?.audiences };
  }

  @Post('graphql-like')
  mutate() {
    handlerCalls++;
    return { done: true };
  }
}

@Controller()
class PublicController {
  @Public()
  @Get('open')
  open() {
    return { open: true };
  }
}

describe('the global guard (passport-jwt strategy) on Nest routes, against a real OpenID Provider', () => {
  let idp: TestIdentityProvider;
  let app: INestApplication;
  let base: string;
  let verifier: TokenVerifierService;

  before(async () => {
    idp = await TestIdentityProvider.start({ audience: AUDIENCE });
    const config = testConfig({ issuer: idp.issuer });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), AuthModule],
      controllers: [UnmarkedController, PublicController],
      providers: [{ provide: APP_FILTER, useClass: GatewayExceptionFilter }],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false, bodyParser: false });
    await app.listen(0, '127.0.0.1');
    await app.get(SigningKeysService).start();
    verifier = app.get(TokenVerifierService);
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  after(async () => {
    await app?.close();
    await idp?.close();
  });

  const get = (path: string, authorization?: string) => request(`${base}${path}`, { headers: authorization ? { authorization } : {} });

  const forge = (opts: { header?: Record<string, unknown>; payload?: Record<string, unknown>; key?: Parameters<typeof signCompact>[0]['key']; alg?: 'RS256' | 'HS256' | 'none' } = {}) => {
    const signer = idp.signingKey();
    const alg = opts.alg ?? 'RS256';
    return signCompact({
      header: { alg, typ: 'at+jwt', kid: signer.kid, ...opts.header },
      payload: { ...goodClaims(idp.issuer), ...opts.payload },
      key: opts.key ?? signer.privateKey,
      alg,
    });
  };

  function assertDenied(res: HttpResponse, reason: RegExp, tokenSent = true): void {
    assert.equal(res.status, 401, res.text);
    const challenge = String(res.headers['www-authenticate']);
    assert.ok(challenge.startsWith('Bearer realm="openfaas"'), challenge);
    if (tokenSent) assert.match(challenge, /error="invalid_token"/);
    else assert.doesNotMatch(challenge, /error=/);
    assert.match(res.json().error_description, reason);
  }

  it('a @Public() route answers without a token', async () => {
    const res = await get('/open');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { open: true });
  });

  it('an unmarked route is denied without a token, and its handler never runs', async () => {
    const calls = handlerCalls;
    assertDenied(await get('/private'), /bearer token is required/, false);
    const post = await request(`${base}/graphql-like`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assertDenied(post, /bearer token is required/, false);
    assert.equal(handlerCalls, calls);
  });

  it('an unmarked route is denied with Basic credentials', async () => {
    assertDenied(await get('/private', `Basic ${Buffer.from('admin:secret').toString('base64')}`), /Basic credentials are not accepted/, false);
  });

  it('an unmarked route admits a real IdP token and hands the verified caller to the handler', async () => {
    const res = await get('/private', `Bearer ${await idp.clientCredentialsToken()}`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { subject: 'demo-client', clientId: 'demo-client', audiences: [AUDIENCE] });
  });

  it('each request is verified once, inside passport-jwt: one key lookup per request', async () => {
    const token = forge();
    const keyFor = mock.method(verifier, 'keyFor');
    try {
      for (let i = 0; i < 2; i++) assert.equal((await get('/private', `Bearer ${token}`)).status, 200);
      assert.equal(keyFor.mock.callCount(), 2);
    } finally {
      keyFor.mock.restore();
    }
  });

  describe('bad tokens are denied with the reason, including those jsonwebtoken alone would accept', () => {
    const pem = () => idp.signingKey().publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const cases: Array<[string, () => string, RegExp]> = [
      ['garbage', () => 'not-a-token', /segments/],
      ['alg none', () => forge({ alg: 'none', header: { alg: 'none' } }), /no signature/],
      ['HS256 with the public key as secret', () => forge({ alg: 'HS256', key: pem() }), /symmetric algorithm HS256/],
      ['expired', () => forge({ payload: { exp: nowSeconds() - 3600 } }), /token expired/],
      ['no exp (jsonwebtoken accepts)', () => forge({ payload: { exp: undefined } }), /no exp claim/],
      ['unknown crit (jsonwebtoken ignores)', () => forge({ header: { crit: ['urn:x'], 'urn:x': 1 } }), /critical extensions/],
      ['embedded jwk (jsonwebtoken ignores)', () => forge({ header: { jwk: idp.signingKey().publicJwk } }), /header carries jwk/],
      ['wrong audience (the strategy sets no audience)', () => forge({ payload: { aud: 'other' } }), /audience is \["other"\]/],
      ['empty audience array', () => forge({ payload: { aud: [] } }), /aud is \[\]/],
      ['issuer with a trailing slash', () => forge({ payload: { iss: `${idp.issuer}/` } }), /issuer is/],
      ['nbf in the future', () => forge({ payload: { nbf: nowSeconds() + 3600 } }), /\(nbf\)/],
      ['unknown kid', () => forge({ header: { kid: 'nope' } }), /kid "nope" is not among/],
      ['wrong key', () => forge({ key: generateSigningKey('RS256').privateKey }), /signature does not verify/],
      ['oversized', () => forge({ payload: { padding: 'x'.repeat(7000) } }), /more than the 8192 allowed/],
    ];
    for (const [name, make, reason] of cases) {
      it(name, async () => {
        const calls = handlerCalls;
        const token = make();
        assertDenied(await get('/private', `Bearer ${token}`), reason);
        assert.equal(handlerCalls, calls, 'the handler never ran');
        const diagnosis = await verifier.diagnose(token);
        assert.equal(diagnosis.valid, false, 'diagnose agrees');
      });
    }
  });

  it('boundary tokens the verifier accepts pass the guard too (jsonwebtoken agrees): skew, no kid, typ JWT, aud array', async () => {
    const now = nowSeconds();
    const tokens = [
      forge({ payload: { exp: now - 10 } }),
      forge({ payload: { nbf: now + 10, iat: now + 10 } }),
      forge({ header: { kid: undefined } }),
      forge({ header: { typ: 'JWT' } }),
      forge({ payload: { aud: ['other', AUDIENCE] } }),
    ];
    for (const token of tokens) {
      assert.equal((await verifier.diagnose(token)).valid, true);
      const res = await get('/private', `Bearer ${token}`);
      assert.equal(res.status, 200, res.text);
    }
  });

  it('a valid forged token passes both the guard and diagnose (the cases above are not vacuous)', async () => {
    const token = forge();
    assert.equal((await get('/private', `Bearer ${token}`)).status, 200);
    assert.equal((await verifier.diagnose(token)).valid, true);
  });
});
