import { Inject, Injectable, Logger } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import { JsonWebTokenError, Jwt, NotBeforeError, TokenExpiredError, verify as verifyJwt, VerifyOptions } from 'jsonwebtoken';
import { GatewayError } from '../common/gateway-error';
import { GATEWAY_CONFIG } from '../config/config.module';
import { formatDuration } from '../config/duration';
import { Algorithm, GatewayConfig, IssuerSettings, SUPPORTED_ALGORITHMS } from '../config/gateway-config';
import { extractBearerToken } from './bearer-token';
import { IssuerKeys, SigningKey } from './issuer-keys';
import { SigningKeysService } from './signing-keys.service';
import { TokenCache } from './token-cache';
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

/** The checks in the order the verifier runs them; diagnostics report them in this order too. */
export const CHECK_NAMES = [
  'format',
  'algorithm',
  'header',
  'issuer',
  'key',
  'signature',
  'expiry',
  'not_before',
  'issued_at',
  'audience',
] as const;
type CheckName = (typeof CHECK_NAMES)[number];

type Outcome = { passed: true; detail: string } | { passed: false; reason: string; detail: string };
type Json = Record<string, unknown>;

interface Decoded {
  header: Json;
  payload: Json;
}

interface Inspection {
  checks: Map<CheckName, Outcome>;
  failure: (Outcome & { passed: false }) | undefined;
  decoded: Decoded | undefined;
  key: SigningKey | undefined;
}

const pass = (detail: string): Outcome => ({ passed: true, detail });
const fail = (reason: string, detail: string): Outcome => ({ passed: false, reason, detail });

/**
 * The one place tokens are judged; docs/architecture.md describes the design. The REST
 * passthrough calls authenticate() (a SHA-256-keyed cache of verified tokens, then verify()); the
 * passport-jwt strategy behind the global guard runs the same steps inside passport: keyFor() as
 * its key provider, jsonwebtoken with jwtOptions, accept() as its validate. So each request is
 * verified once, and both doors agree. The order: compact shape and size caps, algorithm, header
 * (no crit, no embedded or remote keys), exact issuer, which picks the key set, then the key (only
 * from that issuer's JWKS), the signature with jsonwebtoken (which also checks exp and nbf), and
 * what jsonwebtoken lacks: exp required, iat not in the future, audiences in audience_claims.
 * A forged token is described by its key or signature first, never by its claims.
 */
@Injectable()
export class TokenVerifierService {
  private readonly logger = new Logger(TokenVerifierService.name);
  private readonly cache: TokenCache;
  private readonly skewSeconds: number;
  /** What jsonwebtoken checks for either door: the signature (asymmetric algorithms only), exp and nbf. */
  readonly jwtOptions: VerifyOptions & { complete: true };
  private readonly isHeld = (token: VerifiedToken, key: KeyObject) => this.keys.forIssuer(token.issuer)?.peek(token.kid)?.key === key;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly keys: SigningKeysService,
  ) {
    this.cache = new TokenCache(config.tokenCacheSize);
    this.skewSeconds = config.clockSkewMs / 1000;
    this.jwtOptions = Object.freeze({ algorithms: [...SUPPORTED_ALGORITHMS], clockTolerance: this.skewSeconds, complete: true as const });
  }

  get cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.cache.hits, misses: this.cache.misses, size: this.cache.size };
  }

  /** Authenticates an Authorization header: a cached verdict at once, else a full verification. */
  authenticate(authorization: string | undefined): VerifiedToken | Promise<VerifiedToken> {
    const token = extractBearerToken(authorization);
    const hash = TokenCache.keyOf(token);
    return this.cache.get(hash, Date.now(), this.isHeld) ?? this.verifyUncached(token, hash);
  }

  /** Verifies a token (cached verdicts count); throws a GatewayError whose description names the failed check. */
  async verify(token: string): Promise<VerifiedToken> {
    const hash = TokenCache.keyOf(token);
    return this.cache.get(hash, Date.now(), this.isHeld) ?? this.verifyUncached(token, hash);
  }

  /**
   * Every check before the signature; returns the key that must verify it. passport-jwt's key
   * provider; throws a GatewayError naming the first failed check.
   */
  async keyFor(token: string): Promise<SigningKey> {
    const { failure, key } = await this.inspect(token, 'key');
    if (failure || !key) throw refusal(failure);
    return key;
  }

  /** The checks jsonwebtoken lacks, on a token whose signature it has verified; passport-jwt's validate. */
  accept(verified: Jwt): VerifiedToken {
    const header = verified.header as unknown as Json;
    const payload = verified.payload as Json;
    const issuer = this.keys.forIssuer(payload.iss);
    const failure = issuer ? this.claimFailure(payload, issuer.settings) : fail('wrong_issuer', 'the issuer is no longer accepted');
    if (failure) throw refusal(failure);
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    return toVerifiedToken(payload, issuer?.peek(kid)?.kid ?? kid);
  }

  /** A refusal from jsonwebtoken (through passport-jwt or verify()) in the gateway's words. */
  explain(err: unknown, token: string): GatewayError {
    if (err instanceof GatewayError) return err;
    const decoded = decode(token).decoded;
    return refusal(decoded ? this.jwtFailure(err, decoded) : fail('malformed', 'token could not be decoded'));
  }

  /**
   * Why passport refused a request, as the GatewayError every door answers with: the strategy's
   * own refusal, jsonwebtoken's in the gateway's words, or a missing or non-bearer header.
   */
  refusal(err: unknown, info: unknown, authorization: string | undefined): GatewayError {
    for (const candidate of [err, info]) if (candidate instanceof GatewayError) return candidate;
    if (err === null || err === undefined) {
      // passport-jwt found no token (info: "No auth token") or jsonwebtoken refused it (info: its error).
      let token: string;
      try {
        token = extractBearerToken(authorization);
      } catch (missing) {
        return missing as GatewayError;
      }
      if (info instanceof JsonWebTokenError) return this.explain(info, token);
      return new GatewayError('invalid_token', 'token could not be verified', 'rejected');
    }
    this.logger.error(`unexpected failure while authenticating: ${(err as Error)?.stack ?? String(err)}`);
    return new GatewayError('unavailable', 'The gateway could not check this token right now; try again.');
  }

  /** The full verification after a cache miss. */
  private async verifyUncached(token: string, hash: string): Promise<VerifiedToken> {
    const key = await this.keyFor(token);
    let verified: Jwt;
    try {
      verified = verifyJwt(token, key.key, this.jwtOptions);
    } catch (err) {
      throw this.explain(err, token);
    }
    const caller = this.accept(verified);
    this.cache.set(hash, caller, key.key, (caller.expiresAt + this.skewSeconds) * 1000);
    return caller;
  }

  /** Runs every check, not only up to the first failure, and reports each. Never echoes the token. */
  async diagnose(token: string): Promise<TokenDiagnosis> {
    const { checks, failure, decoded } = await this.inspect(token, 'all');
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

  /**
   * Runs the checks in order. 'key' stops after the key (the part before jsonwebtoken); 'all' runs
   * every check whatever fails, with the signature checked alone, for diagnostics.
   */
  private async inspect(token: string, upTo: 'key' | 'all'): Promise<Inspection> {
    const all = upTo === 'all';
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
    const issuer = this.keys.forIssuer(payload.iss);

    const algorithm = checkAlgorithm(header.alg, issuer?.settings.algorithms ?? SUPPORTED_ALGORITHMS);
    if (!record('algorithm', algorithm)) return result;
    if (!record('header', checkHeader(header))) return result;
    if (!record('issuer', this.checkIssuer(payload.iss, issuer))) return result;
    const skipRest = (why: string) => {
      for (const name of ['key', 'signature'] as const) if (!checks.has(name)) record(name, fail('not_checked', `not checked: ${why}`));
      if (all) this.recordClaims(record, payload, issuer?.settings);
      return result;
    };
    if (!issuer) return skipRest('the issuer is not accepted');

    const kid = header.kid;
    if (kid !== undefined && typeof kid !== 'string') {
      record('key', fail('bad_kid', 'kid is not a string, so no key can be chosen'));
      return skipRest('no key');
    }
    const lookup = await issuer.lookup(kid);
    if (!('key' in lookup)) {
      record('key', fail(lookup.missing, lookup.detail));
      return skipRest('no key');
    }
    const alg = typeof header.alg === 'string' ? header.alg : '';
    if (!record('key', keyFitsAlgorithm(lookup.key, alg))) return skipRest('the key does not fit the algorithm');
    result.key = lookup.key;
    if (!all) return result;
    if (!algorithm.passed) return skipRest('the algorithm is not accepted');
    record('signature', checkSignature(token, alg, lookup.key));
    this.recordClaims(record, payload, issuer.settings);
    return result;
  }

  private recordClaims(record: (name: CheckName, outcome: Outcome) => boolean, payload: Json, issuer: IssuerSettings | undefined): void {
    const now = Date.now() / 1000;
    record('expiry', this.checkExpiry(payload.exp, now));
    record('not_before', this.checkNotBefore(payload.nbf, now));
    record('issued_at', this.checkIssuedAt(payload.iat, now));
    record('audience', issuer ? checkAudience(payload, issuer) : fail('not_checked', 'not checked: the issuer is not accepted'));
  }

  /** The first failed claim check after jsonwebtoken has passed the signature, exp and nbf. */
  private claimFailure(payload: Json, issuer: IssuerSettings): (Outcome & { passed: false }) | undefined {
    const now = Date.now() / 1000;
    for (const outcome of [this.checkExpiry(payload.exp, now), this.checkNotBefore(payload.nbf, now), this.checkIssuedAt(payload.iat, now), checkAudience(payload, issuer)]) {
      if (!outcome.passed) return outcome;
    }
    return undefined;
  }

  private jwtFailure(err: unknown, { header, payload }: Decoded): Outcome & { passed: false } {
    const now = Date.now() / 1000;
    if (err instanceof TokenExpiredError || (err instanceof JsonWebTokenError && err.message === 'invalid exp value')) {
      const outcome = this.checkExpiry(payload.exp, now);
      if (!outcome.passed) return outcome;
      return { passed: false, reason: 'expired', detail: 'token has expired' };
    }
    if (err instanceof NotBeforeError || (err instanceof JsonWebTokenError && err.message === 'invalid nbf value')) {
      const outcome = this.checkNotBefore(payload.nbf, now);
      if (!outcome.passed) return outcome;
      return { passed: false, reason: 'not_yet_valid', detail: 'token is not valid yet (nbf)' };
    }
    const key = this.keys.forIssuer(payload.iss)?.peek(typeof header.kid === 'string' ? header.kid : undefined);
    return { passed: false, reason: 'bad_signature', detail: signatureFailure(key) };
  }

  private checkIssuer(iss: unknown, issuer: IssuerKeys | undefined): Outcome {
    if (issuer) return pass(`issued by ${issuer.settings.iss}`);
    const accepted = this.keys.all().map((keys) => JSON.stringify(keys.settings.iss));
    const expected = accepted.length === 1 ? `exactly ${accepted[0]}` : `exactly one of ${accepted.join(', ')}`;
    if (iss === undefined) return fail('wrong_issuer', `token has no iss claim; expected ${expected}`);
    return fail('wrong_issuer', `issuer is ${show(iss)}, expected ${expected}`);
  }

  private checkExpiry(exp: unknown, now: number): Outcome {
    if (exp === undefined) return fail('missing_exp', 'token has no exp claim; tokens without an expiry are not accepted');
    if (!isNumber(exp)) return fail('bad_time_claim', `exp is ${show(exp)}, not a number of seconds`);
    const left = exp - now;
    if (left > 0) return pass(`expires in ${formatDuration(left * 1000)}`);
    if (-left < this.skewSeconds) {
      return pass(`expired ${formatDuration(-left * 1000)} ago, within the ${formatDuration(this.skewSeconds * 1000)} clock skew`);
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
}

function refusal(failure: Outcome | undefined): GatewayError {
  const reason = failure && !failure.passed ? failure.reason : 'malformed';
  const code = reason === 'keys_unavailable' ? 'keys_unavailable' : 'invalid_token';
  return new GatewayError(code, failure?.detail ?? 'token could not be verified', reason);
}

function toVerifiedToken(payload: Json, kid: string | undefined): VerifiedToken {
  return Object.freeze({
    subject: typeof payload.sub === 'string' ? payload.sub : undefined,
    clientId: clientIdOf(payload),
    issuer: payload.iss as string,
    audiences: Object.freeze(payload.aud === undefined ? [] : toArray(payload.aud as string | string[])),
    expiresAt: payload.exp as number,
    kid,
    claims: Object.freeze(payload),
  });
}

function checkAlgorithm(alg: unknown, allowed: readonly string[]): Outcome {
  if (typeof alg !== 'string' || !alg) return fail('alg_not_allowed', 'alg is missing or not a string');
  if (alg.toLowerCase() === 'none') return fail('alg_not_allowed', `alg "${alg}" (an unsigned token) is never accepted`);
  if (/^hs/i.test(alg)) {
    return fail('alg_not_allowed', `symmetric algorithm ${alg} is never accepted; tokens must be signed with the issuer's private key`);
  }
  if (!allowed.includes(alg)) {
    return fail('alg_not_allowed', `algorithm ${printable(alg)} is not accepted; algorithms allows ${allowed.join(', ')}`);
  }
  return pass(`${alg} is accepted`);
}

function checkAudience(payload: Json, issuer: IssuerSettings): Outcome {
  const expected = issuer.audiences;
  const aud = payload.aud;
  if (aud !== undefined && !isStringOrStrings(aud)) {
    return fail('bad_audience', `aud is ${show(aud)}; it must be a non-empty string or a non-empty array of strings`);
  }
  for (const claim of issuer.audienceClaims) {
    const value = payload[claim];
    if (claim === 'aud' ? aud === undefined : typeof value !== 'string') continue;
    const values = typeof value === 'string' ? [value] : (value as string[]);
    const match = values.find((v) => expected.includes(v));
    if (match !== undefined) return pass(`${claim} carries ${JSON.stringify(match)}`);
  }
  const claims = issuer.audienceClaims.join(',');
  const found = aud === undefined ? 'token has no aud claim' : `audience is ${JSON.stringify(toArray(aud))}`;
  let hint = '';
  const azp = payload.azp;
  if (typeof azp === 'string' && expected.includes(azp) && !issuer.audienceClaims.includes('azp')) {
    hint = `; the token carries ${JSON.stringify(azp)} in azp, where Keycloak puts the client ID: add an Audience mapper to the client or set audience_claims=aud,azp`;
  }
  const where = claims === 'aud' ? '' : ` (looked in ${claims})`;
  return fail('wrong_audience', `${found}, expected one of ${JSON.stringify(expected)}${where}${hint}`);
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
    decoded: { header, payload },
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

function signatureFailure(key: SigningKey | undefined): string {
  return `signature does not verify with ${key?.kid === undefined ? 'the signing key' : `key ${JSON.stringify(key.kid)}`}`;
}

/** The signature alone, by jsonwebtoken (times are reported by their own checks). */
function checkSignature(token: string, alg: string, key: SigningKey): Outcome {
  try {
    verifyJwt(token, key.key, { algorithms: [alg as Algorithm], ignoreExpiration: true, ignoreNotBefore: true });
    return pass('signature is valid');
  } catch {
    return fail('bad_signature', signatureFailure(key));
  }
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
