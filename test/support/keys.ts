import crypto, { JsonWebKey, KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

export type AsymmetricAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';

/** A signing key pair with its public JWK (carrying kid, alg and, unless disabled, use). */
export interface SigningKey {
  kid: string;
  alg: AsymmetricAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JsonWebKey;
}

const generateKeyPair = promisify(crypto.generateKeyPair);

const CURVES: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/** A fresh random key id. */
export function randomKid(): string {
  return crypto.randomBytes(9).toString('base64url');
}

/**
 * Generates a key pair for `alg` (RSA 2048 for RS and PS, the matching curve for ES).
 * `use: null` leaves `use` out of the JWK; the default is 'sig'.
 */
export function generateSigningKey(alg: AsymmetricAlgorithm = 'RS256', opts: KeyOptions = {}): SigningKey {
  const curve = CURVES[alg];
  const pair = curve
    ? crypto.generateKeyPairSync('ec', { namedCurve: curve })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return describeKey(alg, pair, opts);
}

/** As `generateSigningKey`, without blocking the event loop (RSA generation takes ~100 ms). */
export async function generateSigningKeyAsync(alg: AsymmetricAlgorithm = 'RS256', opts: KeyOptions = {}): Promise<SigningKey> {
  const curve = CURVES[alg];
  const pair = await (curve
    ? generateKeyPair('ec', { namedCurve: curve })
    : generateKeyPair('rsa', { modulusLength: 2048 }));
  return describeKey(alg, pair, opts);
}

export interface KeyOptions {
  kid?: string;
  use?: string | null;
}

function describeKey(
  alg: AsymmetricAlgorithm,
  { privateKey, publicKey }: { privateKey: KeyObject; publicKey: KeyObject },
  opts: KeyOptions,
): SigningKey {
  const kid = opts.kid ?? randomKid();
  const use = opts.use === undefined ? 'sig' : opts.use;
  const publicJwk: JsonWebKey = { ...publicKey.export({ format: 'jwk' }), kid, alg, ...(use === null ? {} : { use }) };
  return { kid, alg, privateKey, publicKey, publicJwk };
}
