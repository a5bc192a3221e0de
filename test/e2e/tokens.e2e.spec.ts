import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { TokenVerifierService } from '../../src/auth/token-verifier.service';
import {
  assertRefused,
  callSystem,
  expectAccepted,
  expectRefused,
  forge,
  forwarded,
} from '../support/auth-fixtures';
import { generateSigningKey } from '../support/keys';
import { b64url, decodeCompact, encodeSegment, nowSeconds, signCompact } from '../support/tokens';
import { ADMIN_BASIC, ADMIN_PASSWORD, ADMIN_USER, AUDIENCE, Harness } from './harness';

const bearer = (token: string) => `Bearer ${token}`;
const segments = (token: string) => token.split('.');
/** A token error's text with its durations ("1h", "59m59s") replaced by one marker. */
const withoutDurations = (text: unknown) => String(text).replace(/\b\d+[hms](?:\d+[ms])*\b/g, '<duration>');

describe('tokens on the REST passthrough, in front of a real OpenID Provider', () => {
  let h: Harness;
  let verifier: TokenVerifierService;
  before(async () => {
    h = await Harness.start();
    verifier = h.gateway.app.get(TokenVerifierService);
  });
  after(() => h?.close());

  describe('controls: what passes, so that every refusal below is not vacuous', () => {
    it('a client-credentials token from the IdP is forwarded with the admin credentials, not the token', async () => {
      await expectAccepted(h, await h.token(), ADMIN_BASIC);
    });

    it('a token forged with the IdP key and default claims is forwarded (the forger is sound)', async () => {
      await expectAccepted(h, forge(h), ADMIN_BASIC);
    });

    it('a token without kid is accepted while the issuer publishes a single key', async () => {
      await expectAccepted(h, forge(h, { header: { kid: undefined } }), ADMIN_BASIC);
    });

    it('an audience array that includes the configured audience is accepted', async () => {
      await expectAccepted(h, forge(h, { payload: { aud: ['other-api', AUDIENCE] } }), ADMIN_BASIC);
    });

    it('exp 10 s ago, nbf and iat 10 s ahead are accepted within the 30 s clock_skew', async () => {
      const now = nowSeconds();
      await expectAccepted(h, forge(h, { payload: { exp: now - 10, nbf: now + 10, iat: now + 10 } }), ADMIN_BASIC);
    });

    it('typ JWT and a missing typ are accepted as well as at+jwt', async () => {
      await expectAccepted(h, forge(h, { header: { typ: 'JWT' } }), ADMIN_BASIC);
      await expectAccepted(h, forge(h, { header: { typ: undefined } }), ADMIN_BASIC);
    });
  });

  describe('the Authorization header', () => {
    it('no Authorization header: 401 with a plain challenge', async () => {
      await expectRefused(h, undefined, { reason: /bearer token is required/, tokenSent: false });
    });

    it('"Bearer" with no token: 401 with a plain challenge', async () => {
      await expectRefused(h, 'Bearer', { reason: /bearer token is required/, tokenSent: false });
      await expectRefused(h, 'Bearer    ', { reason: /bearer token is required/, tokenSent: false });
    });

    it('Basic credentials are refused, even the right admin ones', async () => {
      assert.equal(ADMIN_BASIC, `Basic ${Buffer.from(`${ADMIN_USER}:${ADMIN_PASSWORD}`).toString('base64')}`);
      await expectRefused(h, ADMIN_BASIC, { reason: /Basic credentials are not accepted/, tokenSent: false });
      await expectRefused(h, ADMIN_BASIC.replace('Basic', 'basic'), { reason: /Basic credentials are not accepted/, tokenSent: false });
      await expectRefused(h, `Basic ${Buffer.from('someone:guess').toString('base64')}`, { reason: /Basic/, tokenSent: false });
    });

    it('other schemes are refused, even carrying a valid token', async () => {
      const token = await h.token();
      for (const scheme of ['Token', 'Digest', 'JWT', 'DPoP']) {
        await expectRefused(h, `${scheme} ${token}`, { reason: /scheme .* is not accepted/, tokenSent: false });
      }
      await expectRefused(h, token, { reason: /scheme .* is not accepted/, tokenSent: false });
    });

    it('two tokens, or whitespace inside the token, are refused', async () => {
      const token = await h.token();
      await expectRefused(h, `Bearer ${token} ${token}`, { reason: /exactly one token/ });
      const [a, b, c] = segments(token);
      await expectRefused(h, `Bearer ${a}. ${b}.${c}`, { reason: /exactly one token/ });
      await expectRefused(h, `Bearer ${a}.${b}\t.${c}`, { reason: /exactly one token/ });
    });
  });

  describe('alg none and missing signatures', () => {
    const spellings = ['none', 'None', 'NONE', 'nOnE', 'NoNe'];

    it('alg none in every spelling with an empty signature is refused', async () => {
      for (const alg of spellings) {
        const token = signCompact({ header: { alg, typ: 'at+jwt' }, payload: forgedPayload(h), alg: 'none' });
        assert.ok(token.endsWith('.'), 'an unsigned token ends with an empty segment');
        await expectRefused(h, bearer(token), { reason: /no signature/ });
      }
    });

    it('alg none in every spelling carrying a (real) signature segment is refused', async () => {
      for (const alg of spellings) {
        const signed = forge(h);
        const token = withHeader(signed, { alg, typ: 'at+jwt', kid: h.idp.signingKey().kid });
        await expectRefused(h, bearer(token), { reason: new RegExp(`alg "${alg}" \\(an unsigned token\\) is never accepted`) });
      }
    });

    it('a stripped signature (header.payload. and header.payload) is refused', async () => {
      const [a, b] = segments(forge(h));
      await expectRefused(h, bearer(`${a}.${b}.`), { reason: /no signature/ });
      await expectRefused(h, bearer(`${a}.${b}`), { reason: /2 segments/ });
    });

    it('a missing, empty or non-string alg is refused', async () => {
      for (const alg of [undefined, '', 123, ['RS256'], null]) {
        const token = withHeader(forge(h), { alg, typ: 'at+jwt', kid: h.idp.signingKey().kid });
        await expectRefused(h, bearer(token), { reason: /alg is missing or not a string/ });
      }
    });

    it('an algorithm outside the allow list is refused (EdDSA, lower-case rs256, RS1)', async () => {
      for (const alg of ['EdDSA', 'rs256', 'RS1', 'RSA-OAEP']) {
        const token = withHeader(forge(h), { alg, typ: 'at+jwt', kid: h.idp.signingKey().kid });
        await expectRefused(h, bearer(token), { reason: /is not accepted; algorithms allows/ });
      }
    });
  });

  describe('segments', () => {
    it('a fourth segment is refused', async () => {
      const token = forge(h);
      await expectRefused(h, bearer(`${token}.${segments(token)[2]}`), { reason: /4 segments/ });
      await expectRefused(h, bearer(`${token}.`), { reason: /4 segments/ });
    });

    it('five segments (JWE) are refused', async () => {
      await expectRefused(h, bearer(`${forge(h)}.abcd.efgh`), { reason: /encrypted tokens \(JWE\) are not accepted/ });
    });

    it('a single segment and empty header or payload are refused', async () => {
      const [a, b, c] = segments(forge(h));
      await expectRefused(h, bearer(a as string), { reason: /1 segments/ });
      await expectRefused(h, bearer(`.${b}.${c}`), { reason: /empty header or payload/ });
      await expectRefused(h, bearer(`${a}..${c}`), { reason: /empty header or payload/ });
    });
  });

  describe('algorithm confusion', () => {
    it('HS256/384/512 signed with the IdP public key (PEM, DER, JWK, modulus) as the secret is refused', async () => {
      const { publicKey, kid } = h.idp.signingKey();
      const jwk = publicKey.export({ format: 'jwk' });
      const secrets: Record<string, Buffer> = {
        'PEM spki': Buffer.from(publicKey.export({ format: 'pem', type: 'spki' }) as string),
        'PEM pkcs1': Buffer.from(publicKey.export({ format: 'pem', type: 'pkcs1' }) as string),
        'DER spki': publicKey.export({ format: 'der', type: 'spki' }),
        'JWK text': Buffer.from(JSON.stringify(jwk)),
        'JWK n': Buffer.from(jwk.n as string, 'base64url'),
      };
      for (const alg of ['HS256', 'HS384', 'HS512'] as const) {
        for (const [name, secret] of Object.entries(secrets)) {
          const token = forge(h, { header: { alg, kid }, key: secret, alg });
          const res = await callSystem(h, bearer(token));
          assertRefused(res, h.openfaas, { reason: new RegExp(`symmetric algorithm ${alg} is never accepted`), label: `${alg} with ${name}` });
        }
      }
    });

    it('HS256 in other spellings (hs256, Hs256) is refused', async () => {
      const pem = h.idp.signingKey().publicKey.export({ format: 'pem', type: 'spki' }) as string;
      for (const alg of ['hs256', 'Hs256']) {
        const token = withHeader(forge(h, { header: { alg: 'HS256' }, key: pem, alg: 'HS256' }), { alg, typ: 'at+jwt' });
        await expectRefused(h, bearer(token), { reason: /symmetric algorithm .* is never accepted/ });
      }
    });
  });

  describe('keys named by the token itself', () => {
    const attacker = generateSigningKey('RS256', { kid: 'attacker-key' });
    const remote = {
      jwk: { ...attacker.publicJwk },
      jku: 'http://127.0.0.1:9/jwks.json',
      x5u: 'http://127.0.0.1:9/cert.pem',
      x5c: [createPublicKey(attacker.privateKey).export({ format: 'der', type: 'spki' }).toString('base64')],
    };

    for (const [name, value] of Object.entries(remote)) {
      it(`an embedded ${name} header is refused, signed by the attacker's key or by the IdP's`, async () => {
        const byAttacker = forge(h, { header: { kid: attacker.kid, [name]: value }, key: attacker.privateKey });
        await expectRefused(h, bearer(byAttacker), { reason: new RegExp(`header carries ${name}; keys come only from the issuer's JWKS`) });
        // Even with a valid signature from the issuer's key, a header naming a key is refused.
        const byIssuer = forge(h, { header: { [name]: value } });
        await expectRefused(h, bearer(byIssuer), { reason: new RegExp(`header carries ${name}`) });
      });
    }
  });

  describe('kid games', () => {
    const attacker = generateSigningKey('RS256');

    it('an unknown kid is refused', async () => {
      const token = forge(h, { header: { kid: 'no-such-key' }, key: attacker.privateKey });
      await expectRefused(h, bearer(token), { reason: /kid "no-such-key" is not among the issuer's signing keys/ });
    });

    it('a non-string kid is refused (number, object, array, null, boolean)', async () => {
      for (const kid of [7, { k: 'v' }, [h.idp.signingKey().kid], null, true]) {
        await expectRefused(h, bearer(forge(h, { header: { kid } })), { reason: /kid must be a non-empty string/ });
      }
    });

    it('an empty kid and a kid longer than 256 characters are refused', async () => {
      await expectRefused(h, bearer(forge(h, { header: { kid: '' } })), { reason: /kid must be a non-empty string/ });
      await expectRefused(h, bearer(forge(h, { header: { kid: 'k'.repeat(257) } })), { reason: /at most 256 characters/ });
    });

    it('path-like, URL-like, SQL-like and prototype-named kids are refused as unknown', async () => {
      const kids = ['../../../../../../dev/null', '/etc/passwd', 'file:///etc/passwd', 'http://127.0.0.1:9/key', "' OR 1=1 --", '__proto__', 'constructor', 'toString'];
      for (const kid of kids) {
        const token = forge(h, { header: { kid } });
        await expectRefused(h, bearer(token), { reason: /is not among the issuer's signing keys/ });
      }
    });

    it("the right kid with another key's signature is refused", async () => {
      const token = forge(h, { key: attacker.privateKey });
      assert.equal(decodeCompact(token).header.kid, h.idp.signingKey().kid);
      await expectRefused(h, bearer(token), { reason: /signature does not verify/ });
    });

    it('a signature transplanted from another valid token is refused', async () => {
      const donor = segments(forge(h));
      const [a, b] = segments(forge(h, { payload: { sub: 'someone-else' } }));
      await expectRefused(h, bearer(`${a}.${b}.${donor[2]}`), { reason: /signature does not verify/ });
    });

    it('a valid token with a tampered payload is refused', async () => {
      const [a, , c] = segments(forge(h));
      const payload = encodeSegment({ ...forgedPayload(h), sub: 'admin' });
      await expectRefused(h, bearer(`${a}.${payload}.${c}`), { reason: /signature does not verify/ });
    });
  });

  describe('time claims', () => {
    it('a missing exp is refused (jsonwebtoken would accept it)', async () => {
      await expectRefused(h, bearer(forge(h, { payload: { exp: undefined } })), { reason: /token has no exp claim/ });
    });

    it('a non-numeric exp is refused (string, null, array, object, boolean, overflow)', async () => {
      const later = nowSeconds() + 300;
      for (const exp of [String(later), null, [later], { v: later }, true]) {
        await expectRefused(h, bearer(forge(h, { payload: { exp } })), { reason: /exp is .*, not a number of seconds/ });
      }
      // 1e400 parses to Infinity: not a finite number.
      const raw = JSON.stringify(forgedPayload(h)).replace(/"exp":\d+/, '"exp":1e400');
      assert.match(raw, /1e400/);
      await expectRefused(h, bearer(forge(h, { rawPayload: raw })), { reason: /exp is .*, not a number of seconds/ });
    });

    it('an expired token is refused, also just beyond the clock skew', async () => {
      await expectRefused(h, bearer(forge(h, { payload: { exp: nowSeconds() - 3600 } })), { reason: /token expired 1h/ });
      await expectRefused(h, bearer(forge(h, { payload: { exp: nowSeconds() - 45 } })), { reason: /token expired/ });
    });

    it('nbf in the future (beyond clock_skew) is refused; a non-numeric nbf is refused', async () => {
      await expectRefused(h, bearer(forge(h, { payload: { nbf: nowSeconds() + 3600 } })), { reason: /not valid for another .* \(nbf\)/ });
      await expectRefused(h, bearer(forge(h, { payload: { nbf: String(nowSeconds()) } })), { reason: /nbf is .*, not a number/ });
    });

    it('iat in the future (beyond clock_skew) is refused; a non-numeric iat is refused', async () => {
      await expectRefused(h, bearer(forge(h, { payload: { iat: nowSeconds() + 3600 } })), { reason: /issued .* in the future \(iat\)/ });
      await expectRefused(h, bearer(forge(h, { payload: { iat: 'yesterday' } })), { reason: /iat is .*, not a number/ });
    });
  });

  describe('issuer: exact match only', () => {
    it('issuer variants (trailing slash, prefix, suffix, case, scheme, whitespace, array, missing) are refused', async () => {
      const iss = h.idp.issuer;
      const variants: unknown[] = [
        `${iss}/`,
        `${iss}//`,
        iss.slice(0, -1),
        `${iss}0`,
        `${iss}/realms/other`,
        iss.toUpperCase(),
        iss.replace('http:', 'https:'),
        iss.replace('127.0.0.1', 'localhost'),
        ` ${iss}`,
        `${iss} `,
        [iss],
        { iss },
        '',
        null,
      ];
      for (const variant of variants) {
        await expectRefused(h, bearer(forge(h, { payload: { iss: variant } })), { reason: /issuer is .*, expected exactly/ });
      }
      await expectRefused(h, bearer(forge(h, { payload: { iss: undefined } })), { reason: /token has no iss claim/ });
    });
  });

  describe('audience', () => {
    it('a malformed aud is refused (empty array, empty string, numbers, mixed, null, object)', async () => {
      for (const aud of [[], '', 123, [123], [AUDIENCE, 7], [AUDIENCE, ''], null, { aud: AUDIENCE }, true]) {
        await expectRefused(h, bearer(forge(h, { payload: { aud } })), {
          reason: /aud is .*; it must be a non-empty string or a non-empty array of strings/,
        });
      }
    });

    it('a missing aud is refused', async () => {
      await expectRefused(h, bearer(forge(h, { payload: { aud: undefined } })), { reason: /token has no aud claim, expected one of/ });
    });

    it('a wrong audience is refused (other, case, whitespace, prefix)', async () => {
      for (const aud of ['other-api', AUDIENCE.toUpperCase(), ` ${AUDIENCE}`, `${AUDIENCE}x`, AUDIENCE.slice(0, -1), ['a', 'b']]) {
        await expectRefused(h, bearer(forge(h, { payload: { aud } })), { reason: /audience is .*, expected one of \["openfaas-gateway"\]/ });
      }
    });

    it('a real IdP token issued for another resource is refused', async () => {
      const token = await h.idp.clientCredentialsToken({ resource: 'https://other-api.example.com' });
      assert.equal(decodeCompact(token).payload.aud, 'https://other-api.example.com');
      await expectRefused(h, bearer(token), { reason: /audience is \["https:\/\/other-api.example.com"\]/ });
    });

    it('the client ID only in azp is refused by default, with the hint to set audience_claims', async () => {
      const token = forge(h, { payload: { aud: 'account', azp: AUDIENCE } });
      await expectRefused(h, bearer(token), { reason: /set audience_claims=aud,azp/ });
    });
  });

  describe('header checks jsonwebtoken leaves out', () => {
    it('an unknown crit header is refused, in any shape', async () => {
      for (const crit of [['urn:example:unknown'], ['exp'], [], 'b64', null]) {
        const token = forge(h, { header: { crit, 'urn:example:unknown': true } });
        await expectRefused(h, bearer(token), { reason: /critical extensions .* that this gateway does not understand/ });
      }
      const b64 = forge(h, { header: { crit: ['b64'], b64: false } });
      await expectRefused(h, bearer(b64), { reason: /critical extensions/ });
    });

    it('a typ other than JWT or at+jwt is refused', async () => {
      for (const typ of ['JWE', 'dpop+jwt', 'secevent+jwt', 7]) {
        await expectRefused(h, bearer(forge(h, { header: { typ } })), { reason: /typ is .*; an access token is typed JWT or at\+jwt/ });
      }
    });
  });

  describe('shape', () => {
    it('an oversized token, properly signed, is refused before parsing', async () => {
      for (const size of [6_000, 9_000]) {
        const token = forge(h, { payload: { padding: 'p'.repeat(size) } });
        assert.ok(token.length > 8192 && token.length < 14_000, `token of ${token.length} characters`);
        await expectRefused(h, bearer(token), { reason: new RegExp(`token is ${token.length} bytes, more than the 8192 allowed`) });
      }
    });

    it("a token beyond Node's 16 KiB header limit is answered 431 by the server and never forwarded", async () => {
      const token = forge(h, { payload: { padding: 'p'.repeat(20_000) } });
      const res = await callSystem(h, bearer(token));
      assert.equal(res.status, 431);
      assert.deepEqual(forwarded(h.openfaas), []);
      await expectAccepted(h, forge(h), ADMIN_BASIC);
    });

    it('an oversized header, properly signed, is refused before decoding', async () => {
      const token = forge(h, { header: { padding: 'h'.repeat(2_000) } });
      assert.ok(token.length < 8192);
      await expectRefused(h, bearer(token), { reason: /token header is \d+ bytes, more than the 2048 allowed/ });
    });

    it('non-base64url characters, padding and impossible lengths are refused', async () => {
      const token = forge(h);
      const [a, b, c] = segments(token) as [string, string, string];
      const variants = [
        `${a}.${b}.${c.slice(0, -2)}+/`,
        `${a}.${b}.${c}=`,
        `${a}==.${b}.${c}`,
        `${a}.${b}%2E.${c}`,
        `${a}.${b}.${c.slice(0, -1)}*`,
        `${a}.${b}.${c}\u00e9`,
        `${a}.${b}.${c.slice(0, -1)}"`,
        `${a}.${b}.${c}${'A'.repeat(((1 - c.length) % 4 + 4) % 4 || 4)}`,
      ];
      assert.equal((variants.at(-1) as string).split('.')[2]!.length % 4, 1);
      for (const variant of variants) {
        await expectRefused(h, `Bearer ${variant}`, { reason: /token is not base64url/ });
      }
    });

    it('the JSON serialization (flattened and general) is refused', async () => {
      const [a, b, c] = segments(forge(h));
      const flattened = JSON.stringify({ protected: a, payload: b, signature: c });
      const general = JSON.stringify({ payload: b, signatures: [{ protected: a, signature: c }] });
      for (const token of [flattened, general]) {
        assert.doesNotMatch(token, /\s/);
        await expectRefused(h, bearer(token), { reason: /JSON serialization is not accepted/ });
      }
    });

    it('a header or payload that is not a JSON object is refused', async () => {
      await expectRefused(h, bearer(forge(h, { rawHeader: 'not json', alg: 'RS256' })), { reason: /header is not a JSON object/ });
      await expectRefused(h, bearer(forge(h, { rawHeader: '["RS256"]', alg: 'RS256' })), { reason: /header is not a JSON object/ });
      await expectRefused(h, bearer(forge(h, { rawPayload: 'not json' })), { reason: /payload is not a JSON object/ });
      await expectRefused(h, bearer(forge(h, { rawPayload: '"a string"' })), { reason: /payload is not a JSON object/ });
    });
  });

  describe('the verified-token cache', () => {
    it('a token that passed is served from the cache on the next call (one miss, then a hit)', async () => {
      const token = forge(h);
      const before = verifier.cacheStats;
      await expectAccepted(h, token, ADMIN_BASIC);
      const first = verifier.cacheStats;
      assert.deepEqual([first.hits - before.hits, first.misses - before.misses, first.size - before.size], [0, 1, 1]);
      await expectAccepted(h, token, ADMIN_BASIC);
      const second = verifier.cacheStats;
      assert.deepEqual([second.hits - first.hits, second.misses - first.misses, second.size - first.size], [1, 0, 0]);
    });

    it('a refused token is never cached as good (validly signed but refused, and badly signed)', async () => {
      const refused = [
        forge(h, { payload: { aud: 'other-api' } }),
        forge(h, { payload: { exp: nowSeconds() - 3600 } }),
        forge(h, { key: generateSigningKey('RS256').privateKey }),
      ];
      const before = verifier.cacheStats;
      for (const token of refused) {
        for (let i = 0; i < 2; i++) {
          await expectRefused(h, bearer(token), { reason: /./ });
        }
      }
      const after = verifier.cacheStats;
      assert.equal(after.size, before.size, 'no refused token entered the cache');
      assert.equal(after.hits, before.hits, 'no refused token was a cache hit');
    });
  });

  describe('agreement between tokenDiagnostics and the REST path', () => {
    it('diagnose(token) gives the same verdict and reason as the passthrough, for valid and invalid tokens', async () => {
      const pem = h.idp.signingKey().publicKey.export({ format: 'pem', type: 'spki' }) as string;
      const tokens: Record<string, string> = {
        'IdP token': await h.token(),
        forged: forge(h),
        'no kid': forge(h, { header: { kid: undefined } }),
        'none, unsigned': signCompact({ header: { alg: 'none' }, payload: forgedPayload(h), alg: 'none' }),
        'none, signed': withHeader(forge(h), { alg: 'none', kid: h.idp.signingKey().kid }),
        'HS256 with PEM': forge(h, { header: { alg: 'HS256' }, key: pem, alg: 'HS256' }),
        jku: forge(h, { header: { jku: 'http://127.0.0.1:9/jwks' } }),
        'unknown kid': forge(h, { header: { kid: 'unknown-kid-for-agreement' } }),
        'numeric kid': forge(h, { header: { kid: 5 } }),
        'wrong key': forge(h, { key: generateSigningKey('RS256').privateKey }),
        'no exp': forge(h, { payload: { exp: undefined } }),
        'string exp': forge(h, { payload: { exp: String(nowSeconds() + 60) } }),
        expired: forge(h, { payload: { exp: nowSeconds() - 3600 } }),
        'future nbf': forge(h, { payload: { nbf: nowSeconds() + 3600 } }),
        'future iat': forge(h, { payload: { iat: nowSeconds() + 3600 } }),
        'issuer slash': forge(h, { payload: { iss: `${h.idp.issuer}/` } }),
        'empty aud': forge(h, { payload: { aud: [] } }),
        'wrong aud': forge(h, { payload: { aud: 'other' } }),
        crit: forge(h, { header: { crit: ['x'] } }),
        oversized: forge(h, { payload: { padding: 'p'.repeat(9_000) } }),
        'four segments': `${forge(h)}.x`,
        padding: `${forge(h)}=`,
        json: JSON.stringify({ payload: 'x', signatures: [] }),
      };
      let valid = 0;
      for (const [name, token] of Object.entries(tokens)) {
        const res = await callSystem(h, bearer(token));
        const diagnosis = await verifier.diagnose(token);
        assert.equal(diagnosis.valid, res.status === 200, `${name}: diagnose says valid=${diagnosis.valid}, REST answered ${res.status}`);
        if (diagnosis.valid) {
          valid++;
          assert.equal(diagnosis.reason, undefined, name);
          assert.ok(diagnosis.checks.every((c) => c.passed), `${name}: every check passed`);
        } else {
          assertRefused(res, h.openfaas, { reason: /./, label: name });
          // The two calls are made a moment apart: a duration in the text ("not valid for another
          // 59m59s") may have ticked over between them.
          assert.equal(withoutDurations(res.json().error_description), withoutDurations(diagnosis.description), name);
          assert.equal(typeof diagnosis.reason, 'string', name);
          assert.ok(diagnosis.checks.some((c) => !c.passed), `${name}: a failed check is reported`);
        }
      }
      assert.equal(valid, 3, 'the three valid tokens pass both paths');
    });

    it('diagnose runs every check and names each failure of a token wrong in several ways', async () => {
      const token = forge(h, { payload: { aud: 'other', exp: nowSeconds() - 3600, iss: 'https://evil.example' } });
      const diagnosis = await verifier.diagnose(token);
      const failed = diagnosis.checks.filter((c) => !c.passed).map((c) => c.name);
      // An issuer not accepted has no key set and no audiences: those checks are reported as not checked.
      assert.deepEqual(failed, ['issuer', 'key', 'signature', 'expiry', 'audience']);
      assert.deepEqual(
        diagnosis.checks.filter((c) => c.detail.startsWith('not checked')).map((c) => c.name),
        ['key', 'signature', 'audience'],
      );
      assert.equal(diagnosis.reason, 'wrong_issuer');
      const res = await callSystem(h, bearer(token));
      assertRefused(res, h.openfaas, { reason: /issuer is "https:\/\/evil.example"/ });
    });
  });

  describe('nothing refused reached OpenFaaS', () => {
    it('after all of the above, a valid call still reaches OpenFaaS exactly once', async () => {
      const res = await callSystem(h, await h.bearer().then((b) => b.authorization));
      assert.equal(res.status, 200);
      assert.deepEqual(forwarded(h.openfaas), ['GET /system/functions']);
    });
  });
});

describe('audience_claims=aud,azp (Keycloak client credentials without an Audience mapper)', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ env: { audience_claims: 'aud,azp' } });
  });
  after(() => h?.close());

  it('a token whose client ID is in azp, with aud "account", passes', async () => {
    await expectAccepted(h, forge(h, { payload: { aud: 'account', azp: AUDIENCE } }), ADMIN_BASIC);
  });

  it('a token with the client ID in azp and no aud passes', async () => {
    await expectAccepted(h, forge(h, { payload: { aud: undefined, azp: AUDIENCE } }), ADMIN_BASIC);
  });

  it('the configured audience in aud still passes', async () => {
    await expectAccepted(h, await h.token(), ADMIN_BASIC);
  });

  it('azp naming another client is refused, and says where it looked', async () => {
    await expectRefused(h, bearer(forge(h, { payload: { aud: 'account', azp: 'other-client' } })), {
      reason: /audience is \["account"\], expected one of \["openfaas-gateway"\] \(looked in aud,azp\)/,
    });
  });

  it('a non-string azp is refused', async () => {
    for (const azp of [[AUDIENCE], 5, null]) {
      await expectRefused(h, bearer(forge(h, { payload: { aud: 'account', azp } })), { reason: /looked in aud,azp/ });
    }
  });

  it('the client ID in client_id (not listed in audience_claims) does not count', async () => {
    await expectRefused(h, bearer(forge(h, { payload: { aud: 'account', client_id: AUDIENCE, azp: undefined } })), { reason: /looked in aud,azp/ });
  });

  it('a malformed aud is refused even when azp matches', async () => {
    await expectRefused(h, bearer(forge(h, { payload: { aud: [], azp: AUDIENCE } })), { reason: /aud is \[\]/ });
  });
});

function forgedPayload(h: Harness): Record<string, unknown> {
  return decodeCompact(forge(h)).payload;
}

/** Replaces a token's header segment, keeping its payload and signature. */
function withHeader(token: string, header: Record<string, unknown>): string {
  const parts = segments(token);
  parts[0] = b64url(JSON.stringify(header));
  return parts.join('.');
}
