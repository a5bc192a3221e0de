import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { PassThrough } from 'node:stream';
import { TestIdentityProvider, TokenRequestError } from './identity-provider';
import { OpenFaasStandIn } from './openfaas-stand-in';
import { JwksServer } from './jwks-server';
import { JwsAlgorithm, b64url, decodeCompact, encodeSegment, nowSeconds, signCompact, verifyCompact } from './tokens';
import { closedPort, openStream, rawHttp, request } from './http-client';
import { generateSigningKey } from './keys';
import { waitUntil } from './wait';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN = { Authorization: basic('admin', 'stand-in-password') };

interface AccessTokenClaims {
  iss: string;
  aud: string;
  client_id: string;
  exp: number;
  iat: number;
  jti: string;
  sub: string;
  scope?: string;
}

describe('TestIdentityProvider', () => {
  let idp: TestIdentityProvider;
  before(async () => {
    idp = await TestIdentityProvider.start();
  });
  after(() => idp.close());

  it('publishes discovery with its issuer, JWKS and token endpoint', async () => {
    const discovery = (await request(`${idp.issuer}/.well-known/openid-configuration`)).json();
    assert.equal(discovery.issuer, idp.issuer);
    assert.equal(discovery.jwks_uri, idp.jwksUri);
    assert.equal(discovery.token_endpoint, idp.tokenEndpoint);
    assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('issues an RFC 9068 JWT access token for client credentials, signed by the JWKS key', async () => {
    const token = await idp.clientCredentialsToken();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const { header, payload } = decodeCompact<AccessTokenClaims>(token);
    const { keys } = (await request(idp.jwksUri)).json();
    assert.equal(keys.length, 1);
    assert.deepEqual(header, { alg: 'RS256', typ: 'at+jwt', kid: keys[0].kid });
    assert.equal(payload.iss, idp.issuer);
    assert.equal(payload.aud, 'openfaas-gateway');
    assert.equal(payload.client_id, 'demo-client');
    assert.equal(payload.exp - payload.iat, 300);
    assert.ok(Math.abs(payload.iat - nowSeconds()) <= 2);
    assert.equal(typeof payload.jti, 'string');
    const publicKey = crypto.createPublicKey({ key: keys[0], format: 'jwk' });
    assert.ok(verifyCompact(token, 'RS256', publicKey));
    assert.equal(idp.signingKey().kid, keys[0].kid);
  });

  it('carries a requested scope, and turns any other resource into the audience', async () => {
    const scoped = decodeCompact<AccessTokenClaims>(await idp.clientCredentialsToken({ scope: 'functions:read' })).payload;
    assert.equal(scoped.scope, 'functions:read');
    const other = decodeCompact<AccessTokenClaims>(await idp.clientCredentialsToken({ resource: 'https://other.example/api' })).payload;
    assert.equal(other.aud, 'https://other.example/api');
  });

  it('refuses a wrong client secret and an unknown client', async () => {
    await assert.rejects(idp.clientCredentialsToken({ clientSecret: 'wrong' }), (err: unknown) => {
      assert.ok(err instanceof TokenRequestError);
      assert.equal(err.status, 401);
      assert.match(err.body, /invalid_client/);
      return true;
    });
    await assert.rejects(idp.clientCredentialsToken({ clientId: 'nobody', clientSecret: 'x' }), TokenRequestError);
  });

  it('lets a test forge tokens with its signing key', () => {
    const key = idp.signingKey();
    const forged = signCompact({ header: { alg: key.alg, typ: 'at+jwt', kid: key.kid }, payload: { iss: idp.issuer }, key: key.privateKey });
    assert.ok(verifyCompact(forged, 'RS256', key.publicKey));
  });

  it('supports ES256, client_secret_basic, several clients, a custom audience and TTL', async () => {
    const es = await TestIdentityProvider.start({
      signingAlg: 'ES256',
      audience: 'https://gateway.example',
      accessTokenTtlSeconds: 60,
      clients: [
        { clientId: 'a', clientSecret: 'sa' },
        { clientId: 'b', clientSecret: 'sb', authMethod: 'client_secret_basic' },
      ],
    });
    try {
      const token = await es.clientCredentialsToken({ clientId: 'b' });
      const { header, payload } = decodeCompact<AccessTokenClaims>(token);
      assert.equal(header.alg, 'ES256');
      assert.equal(payload.aud, 'https://gateway.example');
      assert.equal(payload.client_id, 'b');
      assert.equal(payload.exp - payload.iat, 60);
      assert.ok(verifyCompact(token, 'ES256', es.signingKey().publicKey));
      assert.equal(decodeCompact<AccessTokenClaims>(await es.clientCredentialsToken()).payload.client_id, 'a');
    } finally {
      await es.close();
    }
  });
});

describe('OpenFaasStandIn', () => {
  let faas: OpenFaasStandIn;
  before(async () => {
    faas = await OpenFaasStandIn.start();
  });
  after(() => faas.close());

  it('refuses /system/* without the current Basic credentials, as OpenFaaS does', async () => {
    for (const headers of [{}, { Authorization: basic('admin', 'nope') }, { Authorization: 'Bearer x' }] as Array<Record<string, string>>) {
      const res = await request(`${faas.url}/system/functions`, { headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], 'Basic realm="Restricted"');
      assert.equal(res.text, 'invalid credentials');
    }
    faas.setCredentials('root', 'rotated');
    try {
      assert.equal((await request(`${faas.url}/system/info`, { headers: ADMIN })).status, 401);
      const info = await request(`${faas.url}/system/info`, { headers: { Authorization: basic('root', 'rotated') } });
      assert.equal(info.json().provider.provider, 'openfaas-stand-in');
    } finally {
      faas.setCredentials('admin', 'stand-in-password');
    }
    assert.equal((await request(`${faas.url}/healthz`)).status, 200);
  });

  it('deploys like faas-cli: PUT 404, then POST, then list, describe, update, scale and delete', async () => {
    const spec = JSON.stringify({ service: 'hello', image: 'example/hello:1', labels: { team: 'a' } });
    const put = (body: string) => request(`${faas.url}/system/functions`, { method: 'PUT', headers: ADMIN, body });
    const missing = await put(spec);
    assert.equal(missing.status, 404);
    assert.match(missing.text, /not found/);
    assert.equal((await request(`${faas.url}/system/functions`, { method: 'POST', headers: ADMIN, body: spec })).status, 202);
    assert.equal((await request(`${faas.url}/system/functions`, { method: 'POST', headers: ADMIN, body: '{"image":1}' })).status, 400);

    const list = (await request(`${faas.url}/system/functions?namespace=openfaas-fn`, { headers: ADMIN })).json();
    assert.deepEqual(list.map((f: { name: string }) => f.name).sort(), ['echo', 'hello', 'nodeinfo']);
    const hello = list.find((f: { name: string }) => f.name === 'hello');
    assert.equal(hello.namespace, 'openfaas-fn');
    assert.deepEqual(hello.labels, { team: 'a' });
    assert.ok(!Number.isNaN(Date.parse(hello.createdAt)));

    assert.equal((await put(JSON.stringify({ service: 'hello', image: 'example/hello:2' }))).status, 202);
    const described = (await request(`${faas.url}/system/function/hello?usage=1`, { headers: ADMIN })).json();
    assert.equal(described.image, 'example/hello:2');
    assert.ok(described.usage);
    assert.equal((await request(`${faas.url}/system/function/nope`, { headers: ADMIN })).status, 404);

    const scale = JSON.stringify({ serviceName: 'hello', namespace: 'openfaas-fn', replicas: 3 });
    assert.equal((await request(`${faas.url}/system/scale-function/hello`, { method: 'POST', headers: ADMIN, body: scale })).status, 202);
    assert.equal(faas.functionStatus('hello')?.replicas, 3);

    const del = (body: string) => request(`${faas.url}/system/functions`, { method: 'DELETE', headers: ADMIN, body });
    assert.equal((await del('not json')).status, 400);
    assert.equal((await del(JSON.stringify({ functionName: 'hello' }))).status, 202);
    assert.equal(faas.lastRequest()?.body.toString(), '{"functionName":"hello"}');
    assert.equal((await del(JSON.stringify({ functionName: 'hello' }))).status, 404);
    assert.equal((await request(`${faas.url}/system/functions?namespace=elsewhere`, { headers: ADMIN })).status, 400);
  });

  it('keeps secrets without ever returning their values', async () => {
    const secrets = `${faas.url}/system/secrets`;
    const create = JSON.stringify({ name: 'api-key', value: 's3cr3t-value', namespace: 'openfaas-fn' });
    assert.equal((await request(secrets, { method: 'POST', headers: ADMIN, body: create })).status, 201);
    assert.equal((await request(secrets, { method: 'POST', headers: ADMIN, body: create })).status, 409);
    assert.equal((await request(secrets, { method: 'PUT', headers: ADMIN, body: JSON.stringify({ name: 'x', value: 'v' }) })).status, 404);
    const rotate = JSON.stringify({ name: 'api-key', rawValue: Buffer.from('rotated').toString('base64') });
    assert.equal((await request(secrets, { method: 'PUT', headers: ADMIN, body: rotate })).status, 200);
    assert.equal(faas.secretValue('api-key')?.toString(), 'rotated');
    const listed = await request(secrets, { headers: ADMIN });
    assert.deepEqual(listed.json(), [{ name: 'api-key', namespace: 'openfaas-fn' }]);
    assert.doesNotMatch(listed.text, /rotated|s3cr3t/);
    assert.equal((await request(secrets, { method: 'DELETE', headers: ADMIN, body: '{"name":"api-key"}' })).status, 204);
    assert.equal((await request(secrets, { method: 'DELETE', headers: ADMIN, body: '{"name":"api-key"}' })).status, 404);
    assert.deepEqual((await request(`${faas.url}/system/namespaces`, { headers: ADMIN })).json(), ['openfaas-fn']);
    assert.equal((await request(`${faas.url}/system/namespace/team-a`, { headers: ADMIN })).status, 501);
  });

  it('returns stored logs and ends without follow', async () => {
    faas.emitLog('nodeinfo', 'first');
    faas.emitLog('nodeinfo', 'second');
    const res = await request(`${faas.url}/system/logs?name=nodeinfo&tail=1`, { headers: ADMIN });
    assert.equal(res.headers['content-type'], 'application/x-ndjson');
    const lines = res.text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.text), ['second']);
    assert.deepEqual(Object.keys(lines[0]).sort(), ['instance', 'name', 'namespace', 'text', 'timestamp']);
  });

  it('streams followed logs line by line as they are emitted, until the client leaves', async () => {
    faas.emitLog('echo', 'before');
    const stream = await openStream(`${faas.url}/system/logs?follow=true&name=echo&tail=-1`, { headers: ADMIN });
    assert.equal(stream.status, 200);
    assert.equal(JSON.parse((await stream.nextLine()) as string).text, 'before');
    assert.equal(faas.activeLogStreams, 1);
    for (const text of ['one', 'two', 'three']) {
      faas.emitLog('echo', text);
      assert.equal(JSON.parse((await stream.nextLine(2000)) as string).text, text);
    }
    stream.close();
    await waitUntil(() => faas.activeLogStreams === 0);
  });

  it('ends followed log streams on endLogs()', async () => {
    const stream = await openStream(`${faas.url}/system/logs?follow=1&name=nodeinfo&tail=0`, { headers: ADMIN });
    await waitUntil(() => faas.activeLogStreams === 1);
    faas.endLogs();
    await stream.readAll();
    assert.equal(faas.activeLogStreams, 0);
  });

  it('echoes an invocation chunk by chunk and reports whether Authorization reached the function', async () => {
    const body = new PassThrough();
    const streaming = openStream(`${faas.url}/function/echo/sub/path?x=1`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/event-stream', 'Transfer-Encoding': 'chunked' },
      body,
    });
    body.write('chunk-1');
    const res = await streaming;
    assert.equal(res.headers['content-type'], 'text/event-stream');
    assert.equal(res.headers['x-received-authorization'], 'absent');
    assert.equal((await res.nextChunk())?.toString(), 'chunk-1');
    body.write('chunk-2');
    assert.equal((await res.nextChunk())?.toString(), 'chunk-2');
    body.end();
    assert.equal(await res.nextChunk(), null);
    assert.equal(faas.functionStatus('echo')?.invocationCount, 1);

    const withAuth = await request(`${faas.url}/function/echo.openfaas-fn`, { method: 'POST', headers: { Authorization: 'Bearer t' }, body: 'x' });
    assert.equal(withAuth.headers['x-received-authorization'], 'present');
    assert.equal(withAuth.headers['content-type'], 'application/octet-stream');
    assert.equal((await request(`${faas.url}/function/missing`, { method: 'POST' })).status, 404);
    const queued = await request(`${faas.url}/async-function/echo`, { method: 'POST', body: 'x' });
    assert.equal(queued.status, 202);
    assert.match(String(queued.headers['x-call-id']), /^[0-9a-f-]{36}$/);
  });

  it('records the raw target, raw headers and exact body bytes', async () => {
    faas.clearRequests();
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const target = '/function/echo?a=1&b=%2F%20&&c=&a=2#';
    const echoed = await request(`${faas.url}${target}`, { method: 'PUT', headers: { 'X-Dup': ['1', '2'] }, body: binary });
    assert.deepEqual(echoed.body, binary);
    const [recorded] = await faas.waitForRequests(1);
    assert.ok(recorded);
    assert.equal(recorded.method, 'PUT');
    assert.equal(recorded.url, '/function/echo?a=1&b=%2F%20&&c=&a=2');
    assert.deepEqual(recorded.body, binary);
    assert.equal(recorded.complete, true);
    assert.equal(recorded.aborted, false);
    assert.deepEqual(recorded.rawHeaders.filter((_, i, all) => all[i - 1] === 'X-Dup'), ['1', '2']);
  });

  it('marks a request whose client went away as aborted', async () => {
    faas.clearRequests();
    const body = new PassThrough();
    const pending = openStream(`${faas.url}/function/echo`, { method: 'POST', body });
    body.write('partial');
    const res = await pending;
    const [recorded] = await faas.waitForRequests(1);
    res.close();
    await waitUntil(() => recorded?.aborted);
    assert.equal(recorded?.body.toString(), 'partial');
    await waitUntil(() => faas.openSockets() === 0);
  });

  it('fails on demand: unhealthy, slow, overridden', async () => {
    faas.setHealthy(false);
    assert.equal((await request(`${faas.url}/healthz`, { method: 'HEAD' })).status, 503);
    faas.setHealthy(true);

    faas.setResponseDelay(150);
    let started = Date.now();
    assert.equal((await request(`${faas.url}/healthz`)).status, 200);
    assert.ok(Date.now() - started < 150);
    started = Date.now();
    assert.equal((await request(`${faas.url}/system/info`, { headers: ADMIN })).status, 200);
    assert.ok(Date.now() - started >= 140);
    await assert.rejects(request(`${faas.url}/system/info`, { headers: ADMIN, timeoutMs: 50 }));
    faas.setResponseDelay(0);

    faas.override('GET', '/system/info', (_req, res) => {
      res.writeHead(200, { 'Content-Length': 100 });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    await assert.rejects(request(`${faas.url}/system/info`));
    faas.clearOverrides();
    assert.equal((await request(`${faas.url}/system/info`, { headers: ADMIN })).status, 200);
  });

  it('closes promptly with connections still open', async () => {
    const other = await OpenFaasStandIn.start({ functions: [{ name: 'f', image: 'i', namespace: 'team-a' }] });
    assert.deepEqual((await request(`${other.url}/system/namespaces`, { headers: ADMIN })).json(), ['openfaas-fn', 'team-a']);
    const follow = await openStream(`${other.url}/system/logs?follow=true&name=f&namespace=team-a`, { headers: ADMIN });
    const idle = http.request(`${other.url}/function/f.team-a`, { method: 'POST', agent: false });
    idle.on('error', () => {});
    idle.write('never finished');
    await waitUntil(() => other.openSockets() === 2);
    const started = Date.now();
    await other.close();
    await other.close();
    assert.ok(Date.now() - started < 500);
    await assert.rejects(follow.readAll());
  });
});

describe('JwksServer', () => {
  let issuer: JwksServer;
  before(async () => {
    issuer = await JwksServer.start();
  });
  after(() => issuer.close());

  it('serves discovery and a JWKS whose keys verify what it signs', async () => {
    const rsa = issuer.addKey();
    const ec = issuer.addKey({ alg: 'ES384', kid: 'ec-key' });
    const discovery = (await request(`${issuer.issuer}/.well-known/openid-configuration`)).json();
    assert.deepEqual([discovery.issuer, discovery.jwks_uri], [issuer.issuer, issuer.jwksUri]);
    const { keys } = (await request(issuer.jwksUri)).json();
    assert.deepEqual(keys.map((k: { kid: string }) => k.kid), [rsa.kid, 'ec-key']);
    assert.equal(keys[1].crv, 'P-384');
    assert.equal(keys[0].d, undefined);

    const token = issuer.sign({ aud: 'openfaas-gateway', sub: 'x' });
    const { header, payload } = decodeCompact(token);
    assert.deepEqual(header, { alg: 'RS256', typ: 'JWT', kid: rsa.kid });
    assert.equal(payload.iss, issuer.issuer);
    assert.equal((payload.exp as number) - (payload.iat as number), 300);
    assert.ok(verifyCompact(token, 'RS256', crypto.createPublicKey({ key: keys[0], format: 'jwk' })));
    const ecToken = issuer.sign({ exp: 1 }, { kid: 'ec-key', header: { typ: undefined } });
    assert.deepEqual(decodeCompact(ecToken).header, { alg: 'ES384', kid: 'ec-key' });
    assert.equal(decodeCompact(ecToken).payload.exp, 1);
    assert.ok(verifyCompact(ecToken, 'ES384', ec.publicKey));

    issuer.removeKey('ec-key');
    issuer.addRawJwk({ kty: 'oct', k: b64url('secret'), kid: 'sym' });
    assert.deepEqual((await request(issuer.jwksUri)).json().keys.map((k: { kid: string }) => k.kid), [rsa.kid, 'sym']);
    assert.throws(() => issuer.sign({}, { kid: 'sym' }));
    issuer.removeKey('sym');
  });

  it('counts fetches and misbehaves on demand', async () => {
    issuer.resetCounters();
    issuer.setMode('down');
    assert.equal((await request(issuer.jwksUri)).status, 500);
    issuer.setMode('refuse');
    await assert.rejects(request(issuer.jwksUri));
    issuer.setMode('garbage');
    const garbage = await request(issuer.jwksUri);
    assert.equal(garbage.status, 200);
    assert.throws(() => garbage.json());
    issuer.setMode('huge', { hugeBytes: 3 * 1024 * 1024 });
    const huge = await request(issuer.jwksUri);
    assert.ok(huge.body.length > 3 * 1024 * 1024);
    assert.deepEqual(huge.json().keys, []);
    issuer.setMode('slow', { slowMs: 100, routes: 'jwks' });
    const started = Date.now();
    assert.equal((await request(issuer.jwksUri)).status, 200);
    assert.ok(Date.now() - started >= 90);
    assert.equal((await request(`${issuer.issuer}/.well-known/openid-configuration`)).status, 200);
    issuer.setMode('ok');
    assert.equal(issuer.jwksFetches, 5);
    assert.equal(issuer.discoveryFetches, 1);
  });

  it('drops a slow response on close', async () => {
    const slow = await JwksServer.start();
    slow.setMode('slow', { slowMs: 60_000 });
    const pending = request(slow.jwksUri, { timeoutMs: 60_000 });
    await waitUntil(() => slow.jwksFetches === 1);
    await slow.close();
    await assert.rejects(pending);
  });
});

describe('tokens', () => {
  const algs: JwsAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];
  for (const alg of algs) {
    it(`signs ${alg} verifiably, with ieee-p1363 signatures for ES`, () => {
      const key = generateSigningKey(alg as Exclude<JwsAlgorithm, `HS${string}` | 'none'>);
      const token = signCompact({ header: { alg, kid: key.kid }, payload: { sub: 'x' }, key: key.privateKey });
      assert.ok(verifyCompact(token, alg, key.publicKey));
      assert.ok(verifyCompact(token, alg, key.privateKey.export({ format: 'pem', type: 'pkcs8' })));
      if (alg.startsWith('ES')) {
        const size = { ES256: 64, ES384: 96, ES512: 132 }[alg as 'ES256' | 'ES384' | 'ES512'];
        assert.equal(decodeCompact(token).signature.length, size);
      }
    });
  }

  it('signs HS* with the given bytes, such as a public key PEM, and none with an empty signature', () => {
    const pem = generateSigningKey('RS256').publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const hs = signCompact({ header: { alg: 'HS256' }, payload: { a: 1 }, key: pem });
    const expected = crypto.createHmac('sha256', pem).update(hs.split('.').slice(0, 2).join('.')).digest();
    assert.deepEqual(decodeCompact(hs).signature, expected);
    assert.ok(verifyCompact(hs, 'HS256', Buffer.from(pem)));
    assert.ok(signCompact({ header: { alg: 'none' }, payload: {} }).endsWith('.'));
  });

  it('serializes segments exactly as given', () => {
    assert.equal(encodeSegment('{"alg":"none" }'), b64url('{"alg":"none" }'));
    assert.equal(encodeSegment({ b: 1, a: [null] }), b64url('{"b":1,"a":[null]}'));
    const odd = signCompact({ header: '{"alg":"HS256","alg":"none"}', payload: Buffer.from([0xff]), alg: 'HS256', key: 'k' });
    assert.equal(odd.split('.')[0], b64url('{"alg":"HS256","alg":"none"}'));
    assert.equal(odd.split('.')[1], '_w');
    assert.throws(() => signCompact({ header: {}, payload: {} }), /alg/);
  });
});

describe('http-client', () => {
  let faas: OpenFaasStandIn;
  before(async () => {
    faas = await OpenFaasStandIn.start();
  });
  after(() => faas.close());

  it('rawHttp returns the raw response bytes until the server closes', async () => {
    const raw = await rawHttp('127.0.0.1', faas.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(raw.endsWith('\r\n\r\nOK'));
    const malformed = await rawHttp('127.0.0.1', faas.port, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n');
    assert.match(malformed, /^HTTP\/1\.1 400 Bad Request/);
    const keptAlive = await rawHttp('127.0.0.1', faas.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { closeAfterMs: 20 });
    assert.match(keptAlive, /200 OK/);
  });

  it('closedPort gives a port that refuses connections', async () => {
    const port = await closedPort();
    await assert.rejects(request(`http://127.0.0.1:${port}/`), /ECONNREFUSED/);
    await assert.rejects(rawHttp('127.0.0.1', port, 'x'), /ECONNREFUSED/);
  });
});
