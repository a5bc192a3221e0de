import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../common/gateway-error';
import { extractBearerToken } from './bearer-token';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

function refusal(header: string | undefined): GatewayError {
  try {
    extractBearerToken(header);
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${JSON.stringify(header)} was accepted`);
}

describe('extractBearerToken', () => {
  it('takes the token from "Bearer <token>", any case of the scheme, surrounding spaces trimmed', () => {
    for (const header of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER ${TOKEN}`, `Bearer   ${TOKEN}`, `  Bearer ${TOKEN}  `]) {
      assert.equal(extractBearerToken(header), TOKEN, header);
    }
  });

  it('a missing or empty header, or "Bearer" alone, is missing_token', () => {
    for (const header of [undefined, '', '   ', 'Bearer', 'bearer  ', 'Bearer\t']) {
      const err = refusal(header);
      assert.equal(err.code, 'missing_token', String(header));
      assert.equal(err.reason, 'missing_token');
      assert.match(err.description, /a bearer token is required/);
    }
  });

  it('Basic credentials are refused, in any case', () => {
    for (const header of ['Basic YWRtaW46c2VjcmV0', 'basic YWRtaW46c2VjcmV0', 'BASIC x']) {
      const err = refusal(header);
      assert.equal(err.code, 'missing_token');
      assert.equal(err.reason, 'basic_credentials');
      assert.match(err.description, /Basic credentials are not accepted/);
    }
  });

  it('other schemes are refused and named (printable characters only)', () => {
    const err = refusal(`Token ${TOKEN}`);
    assert.equal(err.reason, 'unsupported_scheme');
    assert.match(err.description, /scheme "Token" is not accepted/);
    const bare = refusal(TOKEN);
    assert.equal(bare.reason, 'unsupported_scheme');
    const odd = refusal('Sch\u00e9me x');
    assert.match(odd.description, /scheme "Sch\?me"/);
  });

  it('more than one token, or whitespace inside it, is a malformed bearer (invalid_token)', () => {
    for (const header of [`Bearer ${TOKEN} ${TOKEN}`, `Bearer ${TOKEN.slice(0, 10)} ${TOKEN.slice(10)}`, `Bearer\t${TOKEN}`, `Bearer ${TOKEN}\tx`]) {
      const err = refusal(header);
      assert.equal(err.code, 'invalid_token', header);
      assert.equal(err.reason, 'malformed');
      assert.match(err.description, /exactly one token/);
    }
  });
});
