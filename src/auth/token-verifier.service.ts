import { Inject, Injectable } from '@nestjs/common';
import { constants, KeyObject, verify as verifySignature } from 'node:crypto';
import { GatewayError } from '../common/gateway-error';
import { GATEWAY_CONFIG } from '../config/config.module';
import { formatDuration } from '../config/duration';
import { GatewayConfig } from '../config/gateway-config';
import { extractBearerToken } from './bearer-token';
import { SigningKey, SigningKeysService } from './signing-keys.service';
import { CacheEntry, TokenCache } from './token-cache';
import { TokenCheck, TokenDiagnosis, VerifiedToken } from './verified-token';

/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;
/** Headers longer than this (encoded) are refused before decoding. */
export const MAX_HEADER_LENGTH = 2048;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ACCEPTED_TYP = new Set(['jwt', 'at+jwt', 'application/jwt', 'application/at+jwt']);
const KEY_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;
const MIN_RSA_BITS = 2048;

const EC_CURVES: Record<string, string> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };
const HASHES: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/** The checks in the order the verifier runs them; diagnostics report them in this order too. */
export const CHECK_NAMES = [
  'format',
  'algorithm',
  'header',
  'issuer',
  'audience',
  'expiry',
  'not_before',
  'issued_at',
  'key',
  'signature',
] as const;
type CheckName = (typeof CHECK_NAMES)[number];

type Outcome = { passed: true; detail: string } | { passed: false; reason: string; detail: string };
type Json = Record<string, unknown>;

interface Decoded {
  header: Json;
  payload: Json;
  signingInput: string;
  signature: Buffer;
}

interface Inspection {
  checks: Map<CheckName, Outcome>;
  failure: (Outcome & { passed: false }) | undefined;
  decoded: Decoded | undefined;
  key: SigningKey | undefined;
}

/** Where a connection keeps the verdict for the Authorization header it sent last (see authenticate). */
const LAST_VERDICT = Symbol('auth.lastVerdict');
type Remembering = { [LAST_VERDICT]?: { readonly header: string; readonly entry: CacheEntry } };

const pass = (detail: string): Outcome => ({ passed: true, detail });
const fail = (reason: string, detail: string): Outcome => ({ passed: false, reason, detail });

/**
 * The one place tokens are judged. The REST passthrough, the passport strategy behind the global
 * guard and the tokenDiagnostics query all call it, so their verdicts always agree. It checks,
 * cheapest first: compact JWS shape and size, algorithm (asymmetric and allowed only), header
 * (no crit, no embedded or remote keys), exact issuer, audience, exp (required), nbf and iat,
 * then the key (only from the issuer's JWKS) and the signature.
 */
@Injectable()
export class TokenVerifierService {
  private readonly cache: TokenCache;
  private readonly skewSeconds: number;
  private readonly isHeld = (token: VerifiedToken, key: KeyObject) => this.keys.peek(token.kid)?.key === key;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly keys: SigningKeysService,
  ) {
    this.cache = new TokenCache(config.tokenCacheSize);
    this.skewSeconds = config.clockSkewMs / 1000;
  }

  get cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.cache.hits, misses: this.cache.misses, size: this.cache.size };
  }

  /**
   * Authenticates an Authorization header: a cached verdict at once, else a full verification.
   *
   * With `connection` (the request's socket), the verdict for the header that connection sent
   * last is kept on it. A kept-alive caller sends the same header on every request; while the
   * cache would still hand that verdict out (the token not expired, the key that verified it
   * still held) it is reused without parsing the header or hashing the token again. Only an
   * identical header matches.
   */
  authenticate(authorization: string | undefined, connection?: object): VerifiedToken | Promise<VerifiedToken> {
    const now = Date.now();
    const memo = connection as Remembering | undefined;
    const last = memo?.[LAST_VERDICT];
    if (last !== undefined && last.header === authorization && TokenCache.stillGood(last.entry, now, this.isHeld)) {
      this.cache.hits++;
      return last.entry.token;
    }
    const token = extractBearerToken(authorization);
    const hash = TokenCache.keyOf(token);
    const entry = this.cache.lookup(hash, now, this.isHeld);
    if (entry !== undefined) {
      if (memo !== undefined) memo[LAST_VERDICT] = { header: authorization as string, entry };
      return entry.token;
    }
    return this.verifyUncached(token, hash).then((verified) => {
      if (memo !== undefined && verified.entry !== undefined) memo[LAST_VERDICT] = { header: authorization as string, entry: verified.entry };
      return verified.token;
    });
  }

  /** A token verified earlier and still good, or undefined: no signature work. */
  cached(token: string, hash = TokenCache.keyOf(token)): VerifiedToken | undefined {
    return this.cache.get(hash, Date.now(), this.isHeld);
  }

  /** Verifies a token; throws a GatewayError whose description names the failed check. */
  async verify(token: string): Promise<VerifiedToken> {
    const hash = TokenCache.keyOf(token);
    return this.cached(token, hash) ?? (await this.verifyUncached(token, hash)).token;
  }

  /** The full verification after a cache miss (looked up once, so each call counts one hit or one miss). */
  private async verifyUncached(token: string, hash: string): Promise<{ token: VerifiedToken; entry: CacheEntry | undefined }> {
    const { failure, decoded, key } = await this.inspect(token, false);
    if (failure || !decoded || !key) {
      const reason = failure?.reason ?? 'malformed';
      const code = reason === 'keys_unavailable' ? 'keys_unavailable' : 'invalid_token';
      throw new GatewayError(code, failure?.detail ?? 'token could not be verified', reason);
    }
    const verified = this.toVerifiedToken(decoded, key);
    const entry = this.cache.set(hash, verified, key.key, (verified.expiresAt + this.skewSeconds) * 1000);
    return { token: verified, entry };
  }

  /** Runs every check, not only up to the first failure, and reports each. Never echoes the token. */
  async diagnose(token: string): Promise<TokenDiagnosis> {
    const { checks, failure, decoded } = await this.inspect(token, true);
    return {
      valid: failure === undefined,
      reason: failure?.reason,
      description: failure?.detail,
      checks: CHECK_NAMES.map((name): TokenCheck => {
        const outcome = checks.get(name) ?? fail('not_checked', 'not checked: the token could not be decoded');
        return { name, passed: outcome.passed, detail: outcome.detail };
      }),
      header: decoded?.header,
      claims: decoded?.payload,
    };
  }

  private async inspect(token: string, all: boolean): Promise<Inspection> {
    const checks = new Map<CheckName, Outcome>();
    const result: Inspection = { checks, failure: undefined, decoded: undefined, key: undefined };
    const record = (name: CheckName, outcome: Outcome): boolean => {
      checks.set(name, outcome);
      if (!outcome.passed && !result.failure) result.failure = outcome;
      return outcome.passed || all;
    };

    const format = decode(token);
    if (!record('format', format.outcome) || !format.decoded) return result;
    const decoded = (result.decoded = format.decoded);
    const { header, payload } = decoded;
    const nowSeconds = Date.now() / 1000;

    const algorithm = this.checkAlgorithm(header.alg);
    if (!record('algorithm', algorithm)) return result;
    if (!record('header', checkHeader(header))) return result;
    if (!record('issuer', this.checkIssuer(payload.iss))) return result;
    if (!record('audience', this.checkAudience(payload))) return result;
    if (!record('expiry', this.checkExpiry(payload.exp, nowSeconds))) return result;
    if (!record('not_before', this.checkNotBefore(payload.nbf, nowSeconds))) return result;
    if (!record('issued_at', this.checkIssuedAt(payload.iat, nowSeconds))) return result;

    const kid = header.kid;
    if (kid !== undefined && typeof kid !== 'string') {
      record('key', fail('bad_kid', 'kid is not a string, so no key can be chosen'));
      record('signature', fail('not_checked', 'not checked: no key'));
      return result;
    }
    const lookup = await this.keys.lookup(kid);
    if (!('key' in lookup)) {
      record('key', fail(lookup.missing, lookup.detail));
      record('signature', fail('not_checked', 'not checked: no key'));
      return result;
    }
    const alg = typeof header.alg === 'string' ? header.alg : '';
    const compatible = keyFitsAlgorithm(lookup.key, alg);
    if (!record('key', compatible)) {
      record('signature', fail('not_checked', 'not checked: the key does not fit the algorithm'));
      return result;
    }
    result.key = lookup.key;
    if (!algorithm.passed) {
      record('signature', fail('not_checked', 'not checked: the algorithm is not accepted'));
      return result;
    }
    record('signature', checkSignature(decoded, alg, lookup.key));
    return result;
  }

  private checkAlgorithm(alg: unknown): Outcome {
    if (typeof alg !== 'string' || !alg) return fail('alg_not_allowed', 'alg is missing or not a string');
    if (alg.toLowerCase() === 'none') return fail('alg_not_allowed', `alg "${alg}" (an unsigned token) is never accepted`);
    if (/^hs/i.test(alg)) {
      return fail('alg_not_allowed', `symmetric algorithm ${alg} is never accepted; tokens must be signed with the issuer's private key`);
    }
    if (!(this.config.algorithms as readonly string[]).includes(alg)) {
      return fail('alg_not_allowed', `algorithm ${printable(alg)} is not accepted; algorithms allows ${this.config.algorithms.join(', ')}`);
    }
    return pass(`${alg} is accepted`);
  }

  private checkIssuer(iss: unknown): Outcome {
    if (iss === this.config.issuer) return pass(`issued by ${this.config.issuer}`);
    if (iss === undefined) return fail('wrong_issuer', `token has no iss claim; expected ${JSON.stringify(this.config.issuer)}`);
    return fail('wrong_issuer', `issuer is ${show(iss)}, expected exactly ${JSON.stringify(this.config.issuer)}`);
  }

  private checkAudience(payload: Json): Outcome {
    const expected = this.config.audiences;
    const expectedText = JSON.stringify(expected);
    const aud = payload.aud;
    if (aud !== undefined && !isStringOrStrings(aud)) {
      return fail('bad_audience', `aud is ${show(aud)}; it must be a non-empty string or a non-empty array of strings`);
    }
    for (const claim of this.config.audienceClaims) {
      const value = payload[claim];
      if (claim === 'aud' ? aud === undefined : typeof value !== 'string') continue;
      const values = typeof value === 'string' ? [value] : (value as string[]);
      const match = values.find((v) => expected.includes(v));
      if (match !== undefined) return pass(`${claim} carries ${JSON.stringify(match)}`);
    }
    const claims = this.config.audienceClaims.join(',');
    const found = aud === undefined ? 'token has no aud claim' : `audience is ${JSON.stringify(toArray(aud))}`;
    let hint = '';
    const azp = payload.azp;
    if (typeof azp === 'string' && expected.includes(azp) && !this.config.audienceClaims.includes('azp')) {
      hint = `; the token carries ${JSON.stringify(azp)} in azp, where Keycloak puts the client ID: add an Audience mapper to the client or set audience_claims=aud,azp`;
    }
    const where = claims === 'aud' ? '' : ` (looked in ${claims})`;
    return fail('wrong_audience', `${found}, expected one of ${expectedText}${where}${hint}`);
  }

  private checkExpiry(exp: unknown, now: number): Outcome {
    if (exp === undefined) return fail('missing_exp', 'token has no exp claim; tokens without an expiry are not accepted');
    if (!isNumber(exp)) return fail('bad_time_claim', `exp is ${show(exp)}, not a number of seconds`);
    const left = exp - now;
    if (left > 0) return pass(`expires in ${formatDuration(left * 1000)}`);
    if (-left < this.skewSeconds) {
      return pass(`expired ${formatDuration(-left * 1000)} ago, within the ${formatDuration(this.config.clockSkewMs)} clock skew`);
    }
    return fail('expired', `token expired ${formatDuration(-left * 1000)} ago`);
  }

  private checkNotBefore(nbf: unknown, now: number): Outcome {
    if (nbf === undefined) return pass('no nbf claim');
    if (!isNumber(nbf)) return fail('bad_time_claim', `nbf is ${show(nbf)}, not a number of seconds`);
    if (nbf - now > this.skewSeconds) {
      return fail('not_yet_valid', `token is not valid for another ${formatDuration((nbf - now) * 1000)} (nbf)`);
    }
    return pass('nbf has passed');
  }

  private checkIssuedAt(iat: unknown, now: number): Outcome {
    if (iat === undefined) return pass('no iat claim');
    if (!isNumber(iat)) return fail('bad_time_claim', `iat is ${show(iat)}, not a number of seconds`);
    if (iat - now > this.skewSeconds) {
      return fail('issued_in_future', `token claims to be issued ${formatDuration((iat - now) * 1000)} in the future (iat)`);
    }
    return pass(`issued ${formatDuration(Math.max(0, now - iat) * 1000)} ago`);
  }

  private toVerifiedToken(decoded: Decoded, key: SigningKey): VerifiedToken {
    const { payload } = decoded;
    return Object.freeze({
      subject: typeof payload.sub === 'string' ? payload.sub : undefined,
      clientId: clientIdOf(payload),
      issuer: payload.iss as string,
      audiences: Object.freeze(payload.aud === undefined ? [] : toArray(payload.aud as string | string[])),
      expiresAt: payload.exp as number,
      kid: key.kid,
      claims: Object.freeze(payload),
    });
  }
}

const CLIENT_CLAIMS = ['azp', 'client_id', 'appid', 'cid'] as const;

/** The calling client, from whichever claim the IdP puts it in (azp, client_id, appid, cid). */
export function clientIdOf(claims: Readonly<Record<string, unknown>>): string | undefined {
  const claim = CLIENT_CLAIMS.find((c) => typeof claims[c] === 'string');
  return claim === undefined ? undefined : (claims[claim] as string);
}

function decode(token: string): { outcome: Outcome; decoded?: Decoded } {
  if (token.length > MAX_TOKEN_LENGTH) {
    return { outcome: fail('token_too_large', `token is ${token.length} bytes, more than the ${MAX_TOKEN_LENGTH} allowed`) };
  }
  if (token.startsWith('{')) {
    return { outcome: fail('malformed', 'JSON serialization is not accepted; send the compact form header.payload.signature') };
  }
  const parts = token.split('.');
  if (parts.length === 5) return { outcome: fail('malformed', 'encrypted tokens (JWE) are not accepted; send a signed JWT') };
  if (parts.length !== 3) {
    return { outcome: fail('malformed', `token has ${parts.length} segments; a signed JWT has exactly 3 (header.payload.signature)`) };
  }
  const [h, p, s] = parts;
  if (!s) return { outcome: fail('malformed', 'token has no signature') };
  if (!h || !p) return { outcome: fail('malformed', 'token has an empty header or payload') };
  if (!BASE64URL.test(h) || !BASE64URL.test(p) || !BASE64URL.test(s) || [h, p, s].some((x) => x.length % 4 === 1)) {
    return {
      outcome: fail('malformed', 'token is not base64url (A-Z a-z 0-9 - _ only; no padding, whitespace or other characters)'),
    };
  }
  if (h.length > MAX_HEADER_LENGTH) {
    return { outcome: fail('token_too_large', `token header is ${h.length} bytes, more than the ${MAX_HEADER_LENGTH} allowed`) };
  }
  const header = parseObject(h);
  if (!header) return { outcome: fail('malformed', 'token header is not a JSON object') };
  const payload = parseObject(p);
  if (!payload) return { outcome: fail('malformed', 'token payload is not a JSON object') };
  return {
    outcome: pass('a compact JWS with a JSON header and payload'),
    decoded: { header, payload, signingInput: token.slice(0, h.length + p.length + 1), signature: Buffer.from(s, 'base64url') },
  };
}

function checkHeader(header: Json): Outcome {
  if (header.crit !== undefined) {
    return fail('crit_unsupported', `header lists critical extensions ${show(header.crit)} that this gateway does not understand`);
  }
  const embedded = KEY_HEADERS.filter((name) => header[name] !== undefined);
  if (embedded.length) {
    return fail('embedded_key', `header carries ${embedded.join(', ')}; keys come only from the issuer's JWKS`);
  }
  if (header.kid !== undefined && (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > 256)) {
    return fail('bad_kid', 'kid must be a non-empty string of at most 256 characters');
  }
  if (header.typ !== undefined && (typeof header.typ !== 'string' || !ACCEPTED_TYP.has(header.typ.toLowerCase()))) {
    return fail('bad_typ', `typ is ${show(header.typ)}; an access token is typed JWT or at+jwt`);
  }
  return pass(header.kid === undefined ? 'no kid' : `kid ${JSON.stringify(header.kid)}`);
}

function keyFitsAlgorithm(key: SigningKey, alg: string): Outcome {
  const name = key.kid === undefined ? 'the signing key' : `key ${JSON.stringify(key.kid)}`;
  if (key.alg !== undefined && key.alg !== alg) {
    return fail('key_mismatch', `${name} is published for ${key.alg}, but the token says ${printable(alg)}`);
  }
  const family = alg.slice(0, 2);
  if (family === 'RS' || family === 'PS') {
    const rsa = key.key.asymmetricKeyType === 'rsa' || (family === 'PS' && key.key.asymmetricKeyType === 'rsa-pss');
    if (!rsa) return fail('key_mismatch', `${name} is ${key.kty}, not an RSA key as ${alg} needs`);
    if ((key.modulusBits ?? 0) < MIN_RSA_BITS) {
      return fail('key_mismatch', `${name} has ${key.modulusBits} bits, fewer than the ${MIN_RSA_BITS} required`);
    }
  } else if (family === 'ES') {
    if (key.key.asymmetricKeyType !== 'ec' || key.curve !== EC_CURVES[alg]) {
      return fail('key_mismatch', `${name} is ${key.kty} ${key.curve ?? ''}`.trimEnd() + `, not the curve ${alg} needs`);
    }
  } else {
    return fail('key_mismatch', `${name} cannot check ${printable(alg)}`);
  }
  return pass(`${name} (${key.kty}${key.curve ? ` ${key.curve}` : ''}) from the issuer's JWKS`);
}

function checkSignature({ signingInput, signature }: Decoded, alg: string, key: SigningKey): Outcome {
  const hash = HASHES[alg.slice(2)];
  const family = alg.slice(0, 2);
  let ok = false;
  try {
    const data = Buffer.from(signingInput, 'latin1');
    if (family === 'RS') {
      ok = verifySignature(hash, data, key.key, signature);
    } else if (family === 'PS') {
      ok = verifySignature(hash, data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    } else if (family === 'ES') {
      ok = verifySignature(hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
    }
  } catch {
    ok = false;
  }
  return ok ? pass('signature is valid') : fail('bad_signature', `signature does not verify with ${key.kid === undefined ? 'the signing key' : `key ${JSON.stringify(key.kid)}`}`);
}

function parseObject(segment: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isStringOrStrings(value: unknown): value is string | string[] {
  if (typeof value === 'string') return value.length > 0;
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v.length > 0);
}

function toArray(value: string | string[] | unknown): string[] {
  return Array.isArray(value) ? (value as string[]) : [value as string];
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

function printable(text: string): string {
  return show(text).slice(1, -1);
}
