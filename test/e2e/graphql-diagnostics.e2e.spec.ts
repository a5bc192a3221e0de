import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIENCE, Harness } from './harness';
import { request } from '../support/http-client';
import { generateSigningKey } from '../support/keys';
import { decodeCompact, encodeSegment, nowSeconds, signCompact } from '../support/tokens';

/**
 * tokenDiagnostics(token), end to end: every check the guard runs, reported one by one for each
 * failure class, and a verdict that always agrees with what the REST passthrough does.
 */

/** The checks the gateway documents (TokenCheck.name), in the order it runs them. */
const CHECKS = ['format', 'algorithm', 'header', 'issuer', 'key', 'signature', 'expiry', 'not_before', 'issued_at', 'audience'] as const;
type CheckName = (typeof CHECKS)[number];

const DIAGNOSE = `query ($t: String!) {
  tokenDiagnostics(token: $t) {
    valid reason description checks { name passed detail }
    subject clientId issuer audiences expiresAt expiresInSeconds header claims
  }
}`;

interface Check {
  name: string;
  passed: boolean;
  detail: string;
}
interface Diagnosis {
  valid: boolean;
  reason: string | null;
  description: string | null;
  checks: Check[];
  subject: string | null;
  clientId: string | null;
  issuer: string | null;
  audiences: string[];
  expiresAt: string | null;
  expiresInSeconds: number | null;
  header: Record<string, unknown> | null;
  claims: Record<string, unknown> | null;
}

/** Runs tokenDiagnostics for `token` (authenticated with a fresh valid token) and checks it never echoes it. */
async function diagnose(h: Harness, token: string): Promise<Diagnosis> {
  const res = await request(`${h.url}/graphql`, {
    method: 'POST',
    headers: { ...(await h.bearer()), 'content-type': 'application/json' },
    body: JSON.stringify({ query: DIAGNOSE, variables: { t: token } }),
  });
  assert.equal(res.status, 200, res.text);
  const body = res.json() as { data?: { tokenDiagnostics: Diagnosis }; errors?: unknown[] };
  assert.equal(body.errors, undefined, res.text);
  assertNotEchoed(res.text, token);
  const diagnosis = body.data!.tokenDiagnostics;
  assert.deepEqual(
    diagnosis.checks.map((c) => c.name),
    [...CHECKS],
    'every check is reported, once, in order, whatever fails',
  );
  for (const check of diagnosis.checks) assert.ok(check.detail.trim().length > 3, `check ${check.name} has no detail`);
  return diagnosis;
}

function assertNotEchoed(text: string, token: string): void {
  if (token.length >= 12) assert.ok(!text.includes(token), 'the response echoes the token');
  const signature = token.split('.')[2];
  if (signature && signature.length >= 12) assert.ok(!text.includes(signature), 'the response echoes the token signature');
}

function check(d: Diagnosis, name: CheckName): Check {
  return d.checks.find((c) => c.name === name)!;
}

/**
 * Asserts the verdict: invalid with `reason`; exactly the `failed` checks fail (each with its
 * detail pattern); every other check listed in `notChecked` failed as "not checked"; the rest passed.
 */
function assertVerdict(
  d: Diagnosis,
  expected: { reason: string; failed: Partial<Record<CheckName, RegExp>>; notChecked?: CheckName[] },
): void {
  const context = JSON.stringify(d.checks, null, 1);
  assert.equal(d.valid, false, context);
  assert.equal(d.reason, expected.reason, context);
  const firstFailed = d.checks.find((c) => !c.passed)!;
  assert.equal(d.description, firstFailed.detail, 'description is the detail of the first failed check (what a 401 says)');
  for (const c of d.checks) {
    const pattern = expected.failed[c.name as CheckName];
    if (pattern) {
      assert.equal(c.passed, false, `${c.name} should fail: ${context}`);
      assert.match(c.detail, pattern, `${c.name} detail`);
    } else if (expected.notChecked?.includes(c.name as CheckName)) {
      assert.equal(c.passed, false, `${c.name} cannot pass unchecked: ${context}`);
      assert.match(c.detail, /^not checked/, `${c.name} detail`);
    } else {
      assert.equal(c.passed, true, `${c.name} should still be checked and pass: ${context}`);
    }
  }
}

/** A token signed by the IdP's real key with the harness issuer/audience, overridable claim by claim. */
function forge(h: Harness, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string {
  const key = h.idp.signingKey();
  const now = nowSeconds();
  const payload: Record<string, unknown> = { iss: h.idp.issuer, aud: AUDIENCE, sub: 'svc-forged', client_id: 'forged-client', iat: now, exp: now + 300, ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return signCompact({ header: { alg: key.alg, typ: 'at+jwt', kid: key.kid, ...header }, payload, key: key.privateKey });
}

/** The signing input of `token` with another signature. */
function withSignature(token: string, signature: Buffer | string): string {
  const [h, p] = token.split('.');
  return `${h}.${p}.${typeof signature === 'string' ? signature : signature.toString('base64url')}`;
}

describe('GraphQL tokenDiagnostics: every check, each failure class', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
  });
  after(() => h?.close());

  it('needs a valid bearer token itself: without one, 401 before the argument is looked at', async () => {
    const res = await request(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: DIAGNOSE, variables: { t: await h.token() } }),
    });
    assert.equal(res.status, 401);
    assert.match(String(res.headers['www-authenticate']), /^Bearer realm="openfaas"/);
  });

  it('a valid IdP token: valid, every check passed with a detail, decoded header and claims, expiry within (0, 300] s', async () => {
    const token = await h.token();
    const { header, payload } = decodeCompact<Record<string, any>>(token);
    const d = await diagnose(h, token);
    assert.equal(d.valid, true, JSON.stringify(d.checks));
    assert.equal(d.reason, null);
    assert.equal(d.description, null);
    for (const c of d.checks) assert.equal(c.passed, true, `${c.name}: ${c.detail}`);
    assert.match(check(d, 'signature').detail, /valid/);
    assert.match(check(d, 'key').detail, new RegExp(String(h.idp.signingKey().kid)));
    assert.match(check(d, 'issuer').detail, new RegExp(h.idp.issuer.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    assert.deepEqual(d.header, header);
    assert.deepEqual(d.claims, payload);
    assert.equal(d.subject, payload.sub);
    assert.equal(d.clientId, payload.client_id ?? payload.azp);
    assert.equal(d.issuer, h.idp.issuer);
    assert.deepEqual(d.audiences, [AUDIENCE]);
    assert.equal(d.expiresAt, new Date(payload.exp * 1000).toISOString());
    assert.ok(d.expiresInSeconds! > 0 && d.expiresInSeconds! <= 300, `expiresInSeconds ${d.expiresInSeconds}`);
    assert.ok(Math.abs(d.expiresInSeconds! - (payload.exp - Date.now() / 1000)) <= 2);
  });

  it('expired: reason expired, "expired 3m12s ago", every other check still run and passed', async () => {
    const now = nowSeconds();
    const token = forge(h, { exp: now - 192, iat: now - 492 });
    const d = await diagnose(h, token);
    assertVerdict(d, { reason: 'expired', failed: { expiry: /^token expired 3m1[123]s ago$/ } });
    assert.equal(d.expiresAt, new Date((now - 192) * 1000).toISOString());
    assert.ok(d.expiresInSeconds! <= -191 && d.expiresInSeconds! >= -195, `expiresInSeconds ${d.expiresInSeconds}`);
  });

  it('expired within the clock skew (10 s): valid, and the expiry detail says so', async () => {
    const d = await diagnose(h, forge(h, { exp: nowSeconds() - 10 }));
    assert.equal(d.valid, true, JSON.stringify(d.checks));
    assert.match(check(d, 'expiry').detail, /within the 30s clock skew/);
    assert.ok(d.expiresInSeconds! < 0);
  });

  it('not yet valid: nbf 10 minutes ahead fails not_before with how long to wait', async () => {
    const d = await diagnose(h, forge(h, { nbf: nowSeconds() + 605 }));
    assertVerdict(d, { reason: 'not_yet_valid', failed: { not_before: /not valid for another 10m[3-5]s \(nbf\)/ } });
  });

  it('issued in the future: iat 10 minutes ahead fails issued_at', async () => {
    const d = await diagnose(h, forge(h, { iat: nowSeconds() + 600 }));
    assertVerdict(d, { reason: 'issued_in_future', failed: { issued_at: /in the future \(iat\)/ } });
  });

  it('wrong audience (a real IdP token for another resource): lists the audience found and the ones expected', async () => {
    const other = 'https://other.example/api';
    const token = await h.idp.clientCredentialsToken({ resource: other });
    const d = await diagnose(h, token);
    assertVerdict(d, {
      reason: 'wrong_audience',
      failed: { audience: new RegExp(`^audience is \\["${other.replace(/[./]/g, '\\$&')}"\\], expected one of \\["${AUDIENCE}"\\]$`) },
    });
    assert.deepEqual(d.audiences, [other]);
  });

  it('wrong audience with the client ID in azp (Keycloak): the detail points at azp and the Audience mapper', async () => {
    const d = await diagnose(h, forge(h, { aud: ['account'], azp: AUDIENCE, client_id: undefined }));
    assertVerdict(d, { reason: 'wrong_audience', failed: { audience: /^audience is \["account"\], expected one of \["openfaas-gateway"\];.*"openfaas-gateway" in azp.*Keycloak/ } });
    assert.match(check(d, 'audience').detail, /Audience mapper|audience_claims=aud,azp/);
    assert.equal(d.clientId, AUDIENCE);
  });

  it('no audience at all: the audience check says so', async () => {
    const d = await diagnose(h, forge(h, { aud: undefined }));
    assertVerdict(d, { reason: 'wrong_audience', failed: { audience: /no aud claim/ } });
  });

  it('wrong issuer (signed by the right key): names the issuer found and the one expected; no key set is consulted for it', async () => {
    const evil = 'https://evil.example/realms/openfaas';
    const d = await diagnose(h, forge(h, { iss: evil }));
    assertVerdict(d, {
      reason: 'wrong_issuer',
      failed: { issuer: /^issuer is "https:\/\/evil\.example\/realms\/openfaas", expected exactly "http:\/\/127\.0\.0\.1:\d+"$/ },
      notChecked: ['key', 'signature', 'audience'],
    });
    assert.ok(check(d, 'issuer').detail.endsWith(`"${h.idp.issuer}"`));
    assert.equal(d.issuer, evil);
  });

  it('unknown kid: the key check fails naming the kid, the signature is not checked', async () => {
    const d = await diagnose(h, forge(h, {}, { kid: 'kid-the-issuer-never-published' }));
    assertVerdict(d, {
      reason: 'unknown_kid',
      failed: { key: /kid "kid-the-issuer-never-published" is not among the issuer's signing keys/ },
      notChecked: ['signature'],
    });
  });

  it('an expired token under an unknown kid is described by its key first (a forged token\'s claims mean nothing), and REST says the same', async () => {
    const now = nowSeconds();
    const token = forge(h, { exp: now - 7200, iat: now - 7500 }, { kid: 'kid-from-elsewhere' });
    const d = await diagnose(h, token);
    assertVerdict(d, {
      reason: 'unknown_kid',
      failed: { key: /kid "kid-from-elsewhere" is not among the issuer's signing keys/, expiry: /^token expired 2h0?m?(\d+s)? ago$|^token expired 2h ago$/ },
      notChecked: ['signature'],
    });
    const rest = await request(`${h.url}/system/functions`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(rest.status, 401);
    assert.match((rest.json() as { error_description: string }).error_description, /kid "kid-from-elsewhere"/);
  });

  it("bad signature (same header and claims, another RSA key's signature): only the signature check fails", async () => {
    const token = await h.token();
    const [hs, ps] = token.split('.');
    const stranger = generateSigningKey('RS256');
    const forged = signCompact({ header: Buffer.from(hs!, 'base64url'), payload: Buffer.from(ps!, 'base64url'), alg: 'RS256', key: stranger.privateKey });
    assert.equal(forged.split('.').slice(0, 2).join('.'), `${hs}.${ps}`);
    const d = await diagnose(h, forged);
    assertVerdict(d, { reason: 'bad_signature', failed: { signature: new RegExp(`does not verify with key "${h.idp.signingKey().kid}"`) } });
    // A tampered payload under the original signature fails the same way.
    const tampered = withSignature(`${hs}.${encodeSegment({ ...decodeCompact(token).payload, sub: 'someone-else' })}.x`, token.split('.')[2]!);
    assertVerdict(await diagnose(h, tampered), { reason: 'bad_signature', failed: { signature: /does not verify/ } });
  });

  it('alg none: the algorithm check refuses an unsigned token; the key does not fit and the signature is not checked', async () => {
    const valid = forge(h);
    const header = { alg: 'none', typ: 'at+jwt', kid: h.idp.signingKey().kid };
    const unsigned = `${encodeSegment(header)}.${valid.split('.')[1]}.${valid.split('.')[2]}`;
    const d = await diagnose(h, unsigned);
    assertVerdict(d, {
      reason: 'alg_not_allowed',
      failed: { algorithm: /alg "none" \(an unsigned token\) is never accepted/, key: /published for RS256, but the token says none/ },
      notChecked: ['signature'],
    });
    assert.deepEqual(d.header, header);
  });

  it('alg none with an empty signature ("header.payload."): a format failure, and every other check is reported as not checked', async () => {
    const valid = forge(h);
    const unsigned = `${encodeSegment({ alg: 'none', typ: 'JWT' })}.${valid.split('.')[1]}.`;
    const d = await diagnose(h, unsigned);
    assertVerdict(d, { reason: 'malformed', failed: { format: /no signature/ }, notChecked: CHECKS.filter((c) => c !== 'format') });
  });

  it("HS256 (key confusion: HMAC over the issuer's public key): symmetric algorithms are refused, the RSA key does not fit", async () => {
    const key = h.idp.signingKey();
    const pem = key.publicKey.export({ type: 'spki', format: 'pem' });
    const token = signCompact({
      header: { alg: 'HS256', typ: 'at+jwt', kid: key.kid },
      payload: decodeCompact(forge(h)).payload,
      key: Buffer.from(pem),
    });
    const d = await diagnose(h, token);
    assertVerdict(d, {
      reason: 'alg_not_allowed',
      failed: { algorithm: /symmetric algorithm HS256 is never accepted/, key: /published for RS256, but the token says HS256/ },
      notChecked: ['signature'],
    });
  });

  it('malformed / garbage strings: format fails with why, the rest not checked, nothing decoded', async () => {
    const cases: Array<[string, RegExp]> = [
      ['this-is-definitely-not-a-jwt', /1 segments; a signed JWT has exactly 3/],
      ['aaaa.bbbb', /2 segments/],
      ['a.b.c.d.e', /encrypted tokens \(JWE\)/],
      ['{"payload":"x","signatures":[]}', /JSON serialization/],
      ['eyJ@.eyJ$.sig!', /not base64url/],
      [`${encodeSegment('[1,2]')}.${encodeSegment('{}')}.c2lnbmF0dXJl`, /header is not a JSON object/],
      [`${encodeSegment({ alg: 'RS256' })}.${encodeSegment('not json')}.c2lnbmF0dXJl`, /payload is not a JSON object/],
      ['x'.repeat(9000), /more than the 8192 allowed/],
    ];
    for (const [token, detail] of cases) {
      const d = await diagnose(h, token);
      const reason = token.length > 8192 ? 'token_too_large' : 'malformed';
      assertVerdict(d, { reason, failed: { format: detail }, notChecked: CHECKS.filter((c) => c !== 'format') });
      assert.equal(d.header, null, token.slice(0, 40));
      assert.equal(d.claims, null);
      assert.equal(d.subject, null);
      assert.deepEqual(d.audiences, []);
      assert.equal(d.expiresAt, null);
    }
  });

  it('missing exp (a required claim): the expiry check fails; expiry fields are null', async () => {
    const d = await diagnose(h, forge(h, { exp: undefined }));
    assertVerdict(d, { reason: 'missing_exp', failed: { expiry: /no exp claim/ } });
    assert.equal(d.expiresAt, null);
    assert.equal(d.expiresInSeconds, null);
  });

  it('a non-numeric exp is reported as a bad time claim', async () => {
    const d = await diagnose(h, forge(h, { exp: 'tomorrow' }));
    assertVerdict(d, { reason: 'bad_time_claim', failed: { expiry: /exp is "tomorrow", not a number/ } });
  });

  it('a header carrying its own key (jwk) is refused by the header check', async () => {
    const d = await diagnose(h, forge(h, {}, { jwk: h.idp.signingKey().publicJwk }));
    assertVerdict(d, { reason: 'embedded_key', failed: { header: /carries jwk; keys come only from the issuer's JWKS/ } });
  });

  it('everything wrong at once (wrong issuer, wrong audience, expired, nbf ahead): each failure reported, the first is the reason', async () => {
    const now = nowSeconds();
    const d = await diagnose(h, forge(h, { iss: 'https://evil.example', aud: 'account', exp: now - 600, iat: now - 900, nbf: now + 600 }));
    assertVerdict(d, {
      reason: 'wrong_issuer',
      failed: { issuer: /issuer is "https:\/\/evil\.example"/, expiry: /^token expired 10m(1s)? ago$/, not_before: /not valid for another/ },
      // No accepted issuer, so no key set to check the signature with and no audiences to expect.
      notChecked: ['key', 'signature', 'audience'],
    });
    assert.equal(d.description, check(d, 'issuer').detail);
  });

  it('an expired token with a wrong audience reports both failures; expiry comes first, as jsonwebtoken checks it with the signature', async () => {
    const d = await diagnose(h, forge(h, { aud: 'account', exp: nowSeconds() - 120 }));
    assertVerdict(d, { reason: 'expired', failed: { audience: /audience is \["account"\]/, expiry: /^token expired 2m(1s)? ago$/ } });
  });
});

describe('GraphQL tokenDiagnostics agrees with the REST passthrough and the /graphql door on the same tokens', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
  });
  after(() => h?.close());

  async function tokenSet(): Promise<Array<[string, string]>> {
    const key = h.idp.signingKey();
    const now = nowSeconds();
    const valid = forge(h);
    const [hs, ps, ss] = valid.split('.');
    const stranger = generateSigningKey('RS256');
    return [
      ['valid IdP token', await h.token()],
      ['valid forged token', valid],
      ['expired within the clock skew', forge(h, { exp: now - 10 })],
      ['expired', forge(h, { exp: now - 600, iat: now - 900 })],
      ['nbf ahead', forge(h, { nbf: now + 600 })],
      ['iat ahead', forge(h, { iat: now + 600 })],
      ['wrong audience (IdP)', await h.idp.clientCredentialsToken({ resource: 'https://other.example/api' })],
      ['audience only in azp', forge(h, { aud: 'account', azp: AUDIENCE })],
      ['wrong issuer', forge(h, { iss: 'https://evil.example' })],
      ['unknown kid', forge(h, {}, { kid: 'no-such-kid' })],
      ['unknown kid, expired', forge(h, { exp: now - 7200, iat: now - 7500 }, { kid: 'no-such-kid' })],
      ['bad signature', signCompact({ header: Buffer.from(hs!, 'base64url'), payload: Buffer.from(ps!, 'base64url'), alg: 'RS256', key: stranger.privateKey })],
      ['alg none', `${encodeSegment({ alg: 'none', typ: 'at+jwt', kid: key.kid })}.${ps}.${ss}`],
      ['alg none, empty signature', `${encodeSegment({ alg: 'none' })}.${ps}.`],
      ['HS256 over the public key', signCompact({ header: { alg: 'HS256', kid: key.kid }, payload: decodeCompact(valid).payload, key: Buffer.from(key.publicKey.export({ type: 'spki', format: 'pem' })) })],
      ['garbage', 'garbage-not-a-token'],
      ['missing exp', forge(h, { exp: undefined })],
      ['embedded jwk', forge(h, {}, { jwk: key.publicJwk })],
      ['everything wrong', forge(h, { iss: 'https://evil.example', aud: 'account', exp: now - 600 })],
    ];
  }

  it('valid ⇔ REST 200, and every 401 error_description equals tokenDiagnostics.description (both orders, and on /graphql too)', async () => {
    const tokens = await tokenSet();
    let accepted = 0;
    for (const [name, token] of tokens) {
      const before = await diagnose(h, token);
      const rest = await request(`${h.url}/system/functions`, { headers: { authorization: `Bearer ${token}` } });
      const door = await request(`${h.url}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      const afterwards = await diagnose(h, token);
      assert.equal(before.valid, afterwards.valid, `${name}: diagnostics changed their mind`);
      // Time-based details may tick over by a second between calls; the REST answer lies between the two diagnoses.
      const descriptions = [before.description, afterwards.description];
      for (const [path, res] of [['REST GET /system/functions', rest], ['POST /graphql', door]] as const) {
        if (before.valid) {
          assert.equal(res.status, 200, `${name}: diagnostics say valid, ${path} answered ${res.status} ${res.text.slice(0, 200)}`);
        } else {
          assert.equal(res.status, 401, `${name}: diagnostics say invalid (${before.reason}), ${path} answered ${res.status}`);
          const body = res.json() as { error: string; error_description: string };
          assert.ok(descriptions.includes(body.error_description), `${name}: ${path} says ${JSON.stringify(body.error_description)}, diagnostics ${JSON.stringify(descriptions)}`);
          assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
        }
      }
      if (before.valid) accepted++;
    }
    assert.equal(accepted, 3, 'the set holds exactly three tokens the gateway accepts');
  });
});
