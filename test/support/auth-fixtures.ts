import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUDIENCE, Harness } from '../e2e/harness';
import { GatewayConfig, loadConfig } from '../../src/config/gateway-config';
import { HttpResponse, request } from './http-client';
import { TestIdentityProvider } from './identity-provider';
import { OpenFaasStandIn } from './openfaas-stand-in';
import { JwsAlgorithm, nowSeconds, Segment, signCompact } from './tokens';

/**
 * Helpers shared by the token and key tests (and the specs that need a caller's token): a config
 * for unit specs, token forging with the identity provider's real key, and the one refusal
 * assertion every negative test makes.
 */

let secretsDir: string | undefined;

/**
 * A parsed GatewayConfig for unit and integration specs (audience defaults to the harness one),
 * with throw-away basic-auth secret files, removed when the process exits.
 */
export function testConfig(env: Record<string, string> & { issuer: string }): GatewayConfig {
  if (secretsDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'auth-config-'));
    writeFileSync(join(dir, 'basic-auth-user'), 'admin\n');
    writeFileSync(join(dir, 'basic-auth-password'), 'unit-test-password\n');
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    secretsDir = dir;
  }
  return loadConfig({ audience: AUDIENCE, secret_mount_path: secretsDir, ...env });
}

export interface ForgeOptions {
  /** Header fields over the defaults {alg, typ: 'at+jwt', kid}; a field given as undefined is left out. */
  header?: Record<string, unknown>;
  /** Claims over the defaults {iss, aud, sub, client_id, iat, exp, jti}; undefined leaves one out. */
  payload?: Record<string, unknown>;
  /** Replace the header segment entirely (exact bytes or object). */
  rawHeader?: Segment;
  /** Replace the payload segment entirely (exact bytes or object). */
  rawPayload?: Segment;
  /** Signing key; default the identity provider's own. */
  key?: Parameters<typeof signCompact>[0]['key'];
  /** Signing algorithm; default the header's alg. */
  alg?: JwsAlgorithm;
}

/** Claims a token needs to pass every check of a gateway in front of `issuer`. */
export function goodClaims(issuer: string): Record<string, unknown> {
  const now = nowSeconds();
  return {
    iss: issuer,
    aud: AUDIENCE,
    sub: 'forged-subject',
    client_id: 'demo-client',
    iat: now,
    exp: now + 300,
    jti: randomBytes(8).toString('base64url'),
  };
}

/**
 * A token signed with `idp`'s own key (unless `key` says otherwise) whose subject and client (azp)
 * are random and tell each other apart, over the other claims of goodClaims (client_id aside);
 * `claims` override them, and a claim given as undefined is left out.
 */
export function forgeCallerToken(idp: TestIdentityProvider, claims: Record<string, unknown> = {}, key: ForgeOptions['key'] = idp.signingKey().privateKey): string {
  const signer = idp.signingKey();
  const { client_id: _clientId, ...standard } = goodClaims(idp.issuer);
  const payload: Record<string, unknown> = {
    ...standard,
    sub: `user-${randomBytes(4).toString('hex')}`,
    azp: `client-${randomBytes(4).toString('hex')}`,
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return signCompact({ header: { alg: signer.alg, typ: 'at+jwt', kid: signer.kid }, payload, key });
}

/** Signs a token with the harness identity provider's real signing key (unless `key` says otherwise). */
export function forge(harness: Harness, opts: ForgeOptions = {}): string {
  const signer = harness.idp.signingKey();
  const header = opts.rawHeader ?? { alg: signer.alg, typ: 'at+jwt', kid: signer.kid, ...opts.header };
  const payload = opts.rawPayload ?? { ...goodClaims(harness.idp.issuer), ...opts.payload };
  const alg = opts.alg ?? (typeof header === 'object' && !Buffer.isBuffer(header) ? ((header as { alg?: JwsAlgorithm }).alg ?? 'RS256') : 'RS256');
  return signCompact({ header, payload, key: opts.key ?? signer.privateKey, alg });
}

/** Requests that reached the OpenFaaS stand-in, other than health probes. */
export function forwarded(openfaas: OpenFaasStandIn): string[] {
  return openfaas.requests.filter((r) => !r.url.startsWith('/healthz')).map((r) => `${r.method} ${r.url}`);
}

export const SYSTEM_PATH = '/system/functions';

/** GET /system/functions with the given Authorization (undefined: none), from a clean recording. */
export async function callSystem(harness: Harness, authorization: string | undefined): Promise<HttpResponse> {
  harness.openfaas.clearRequests();
  return request(`${harness.url}${SYSTEM_PATH}`, { headers: authorization === undefined ? {} : { authorization } });
}

export interface RefusalExpectation {
  /** What error_description must say (the specific reason). */
  reason: RegExp;
  /** A bearer token was sent, so the challenge carries error="invalid_token"; default true. */
  tokenSent?: boolean;
  /** Names the case in failure messages. */
  label?: string;
}

/** Asserts the gateway's 401 shape and that OpenFaaS saw nothing. */
export function assertRefused(res: HttpResponse, openfaas: OpenFaasStandIn, { reason, tokenSent = true, label }: RefusalExpectation): void {
  const context = `${label ? `${label}: ` : ''}${res.status} ${res.text}`;
  assert.equal(res.status, 401, context);
  const challenge = String(res.headers['www-authenticate'] ?? '');
  assert.ok(challenge.startsWith('Bearer realm="openfaas"'), `www-authenticate: ${challenge}`);
  if (tokenSent) {
    assert.match(challenge, /error="invalid_token"/, `www-authenticate: ${challenge}`);
  } else {
    assert.doesNotMatch(challenge, /error=/, `www-authenticate: ${challenge}`);
  }
  const body = res.json<{ error: string; error_description: string }>();
  assert.equal(body.error, tokenSent ? 'invalid_token' : 'missing_token', context);
  assert.match(body.error_description, reason, context);
  assert.deepEqual(forwarded(openfaas), [], 'a refused request reached OpenFaaS');
}

/** Sends `authorization` to /system/functions and asserts the refusal. */
export async function expectRefused(harness: Harness, authorization: string | undefined, expectation: RefusalExpectation): Promise<void> {
  const res = await callSystem(harness, authorization);
  assertRefused(res, harness.openfaas, expectation);
}

/** Sends a bearer token to /system/functions and asserts that it reached OpenFaaS with the admin credentials. */
export async function expectAccepted(harness: Harness, token: string, adminBasic: string): Promise<void> {
  const res = await callSystem(harness, `Bearer ${token}`);
  assert.equal(res.status, 200, res.text);
  const seen = harness.openfaas.requests.filter((r) => r.url === SYSTEM_PATH);
  assert.equal(seen.length, 1, 'the accepted request should reach OpenFaaS exactly once');
  assert.equal(seen[0]?.headers.authorization, adminBasic);
}
