import crypto, { KeyObject } from 'node:crypto';

/**
 * Hand-rolled JWS (compact serialization) built on node:crypto alone, so that attack tests can
 * produce tokens no JOSE library would: odd headers, wrong algorithms, `none`, confused keys.
 */

type KeyInput = KeyObject | Buffer | string;

export type JwsAlgorithm =
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512'
  | 'HS256' | 'HS384' | 'HS512'
  | 'none';

/** A JOSE segment: an object (JSON-serialized), or a string/Buffer used as the exact bytes. */
export type Segment = object | string | Buffer;

export function b64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/** Base64url of `JSON.stringify(value)`; strings and Buffers are encoded as-is. */
export function encodeSegment(value: Segment): string {
  return b64url(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value));
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export interface SignCompactOptions {
  header: Segment;
  payload: Segment;
  /** Private key for RS/PS/ES; for HS the secret bytes (a string is taken as its UTF-8 bytes). Unused for `none`. */
  key?: KeyInput;
  /** Defaults to the header's `alg` when the header is an object. */
  alg?: JwsAlgorithm;
}

/** Builds `header.payload.signature`, signing with `alg` over exactly the serialized segments. */
export function signCompact({ header, payload, key, alg }: SignCompactOptions): string {
  const algorithm = alg ?? headerAlg(header);
  const input = `${encodeSegment(header)}.${encodeSegment(payload)}`;
  return `${input}.${b64url(signature(algorithm, input, key))}`;
}

/** Verifies a JWS signature with node:crypto (for checking test fixtures; not a JWT validator). */
export function verifyCompact(token: string, alg: JwsAlgorithm, key: KeyInput): boolean {
  const [h, p, s] = token.split('.');
  if (s === undefined) return false;
  const input = `${h}.${p}`;
  const sig = Buffer.from(s, 'base64url');
  const family = alg.slice(0, 2);
  if (alg === 'none' || family === 'HS') {
    const expected = signature(alg, input, key);
    return expected.length === sig.length && crypto.timingSafeEqual(expected, sig);
  }
  return crypto.verify(digest(alg), Buffer.from(input), asymmetricOptions(alg, key) as crypto.VerifyKeyObjectInput, sig);
}

/** Decodes (without verifying) the header and payload of a compact JWS. */
export function decodeCompact<P = Record<string, unknown>, H = Record<string, unknown>>(
  token: string,
): { header: H; payload: P; signature: Buffer } {
  const [h, p, s] = token.split('.');
  if (h === undefined || p === undefined || s === undefined) throw new Error('not a compact JWS');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as H,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as P,
    signature: Buffer.from(s, 'base64url'),
  };
}

function headerAlg(header: Segment): JwsAlgorithm {
  const alg = typeof header === 'object' && !Buffer.isBuffer(header) ? (header as { alg?: unknown }).alg : undefined;
  if (typeof alg !== 'string') throw new TypeError('signCompact: pass `alg` when the header has no string alg');
  return alg as JwsAlgorithm;
}

function digest(alg: JwsAlgorithm): string {
  const bits = alg.slice(2);
  if (!['256', '384', '512'].includes(bits)) throw new TypeError(`unsupported JWS alg ${alg}`);
  return `sha${bits}`;
}

function signature(alg: JwsAlgorithm, input: string, key: KeyInput | undefined): Buffer {
  if (alg === 'none') return Buffer.alloc(0);
  if (key === undefined) throw new TypeError(`signCompact: ${alg} needs a key`);
  if (alg.startsWith('HS')) return crypto.createHmac(digest(alg), hmacSecret(key)).update(input).digest();
  return crypto.sign(digest(alg), Buffer.from(input), asymmetricOptions(alg, key) as crypto.SignKeyObjectInput);
}

function hmacSecret(key: KeyInput): Buffer {
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  if (Buffer.isBuffer(key)) return key;
  if (key.type === 'secret') return key.export();
  throw new TypeError('HS* needs secret bytes; pass the exact bytes (e.g. a public key as PEM/DER) as a Buffer or string');
}

/** RS/PS/ES signing options; `key` may be a KeyObject or PEM/DER bytes, as node:crypto accepts. */
function asymmetricOptions(alg: JwsAlgorithm, key: KeyInput): crypto.SigningOptions & { key: KeyInput } {
  switch (alg.slice(0, 2)) {
    case 'RS':
      return { key, padding: crypto.constants.RSA_PKCS1_PADDING };
    case 'PS':
      return { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST };
    case 'ES':
      return { key, dsaEncoding: 'ieee-p1363' };
    default:
      throw new TypeError(`unsupported JWS alg ${alg}`);
  }
}
