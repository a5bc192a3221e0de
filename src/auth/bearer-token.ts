import { GatewayError } from '../common/gateway-error';

const BEARER = /^bearer +([^\s]+)$/i;
const EMPTY_BEARER = /^bearer\s*$/i;

/**
 * Takes the access token out of an Authorization header (RFC 6750 §2.1). Only the Bearer
 * scheme counts: Basic credentials are refused even when they are the right ones.
 */
export function extractBearerToken(authorization: string | undefined): string {
  const value = authorization?.trim();
  if (!value || EMPTY_BEARER.test(value)) {
    throw new GatewayError('missing_token', 'a bearer token is required: send Authorization: Bearer <access token>', 'missing_token');
  }
  const match = BEARER.exec(value);
  if (match) return match[1];
  const scheme = value.split(/\s/, 1)[0];
  if (/^basic$/i.test(scheme)) {
    throw new GatewayError(
      'missing_token',
      'Basic credentials are not accepted here; send an OIDC access token as Authorization: Bearer <token>',
      'basic_credentials',
    );
  }
  if (/^bearer$/i.test(scheme)) {
    throw new GatewayError('invalid_token', 'Authorization must be "Bearer" followed by exactly one token', 'malformed');
  }
  throw new GatewayError(
    'missing_token',
    `Authorization scheme "${scheme.slice(0, 32).replace(/[^\x21-\x7e]/g, '?')}" is not accepted; send Authorization: Bearer <access token>`,
    'unsupported_scheme',
  );
}
