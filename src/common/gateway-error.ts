import type { IncomingMessage } from 'node:http';

/**
 * Every refusal the gateway makes, by stable code. The HTTP status, the RFC 6750 challenge and
 * the GraphQL extensions.code for each are decided here and nowhere else.
 */
export const ERROR_CODES = {
  missing_token: { status: 401, graphql: 'UNAUTHENTICATED', challenge: 'plain' },
  invalid_token: { status: 401, graphql: 'UNAUTHENTICATED', challenge: 'invalid_token' },
  keys_unavailable: { status: 503, graphql: 'KEYS_UNAVAILABLE', challenge: undefined },
  invoke_disabled: { status: 403, graphql: 'FORBIDDEN', challenge: undefined },
  forbidden: { status: 403, graphql: 'FORBIDDEN', challenge: undefined },
  bad_request: { status: 400, graphql: 'BAD_REQUEST', challenge: undefined },
  not_found: { status: 404, graphql: 'NOT_FOUND', challenge: undefined },
  method_not_allowed: { status: 405, graphql: 'BAD_REQUEST', challenge: undefined },
  payload_too_large: { status: 413, graphql: 'BAD_REQUEST', challenge: undefined },
  upstream_unavailable: { status: 502, graphql: 'UPSTREAM_UNAVAILABLE', challenge: undefined },
  upstream_timeout: { status: 504, graphql: 'UPSTREAM_TIMEOUT', challenge: undefined },
  upstream_error: { status: 502, graphql: 'UPSTREAM_ERROR', challenge: undefined },
  unavailable: { status: 503, graphql: 'UNAVAILABLE', challenge: undefined },
  internal: { status: 500, graphql: 'INTERNAL_SERVER_ERROR', challenge: undefined },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export const REALM = 'openfaas';

/** A refusal with a stable code and one sentence that tells the caller what is wrong. */
export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly description: string,
    /** Finer reason for metrics and diagnostics, e.g. "expired" or "unknown_kid". */
    readonly reason: string = code,
  ) {
    super(description);
    this.name = 'GatewayError';
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const quote = (text: string) => text.replace(/[\\"]/g, '\\$&').replace(/[^\x20-\x7e]/g, '?');

/**
 * Whether body bytes of this request may still be on the wire: an answer sent before reading
 * them must close the connection, which cannot be reused with them unread.
 */
export function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Maps a GatewayError to the status, headers and JSON body every door of the gateway answers with. */
export function toErrorResponse(error: GatewayError): ErrorResponse {
  const spec = ERROR_CODES[error.code];
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  };
  if (spec.challenge === 'plain') {
    headers['www-authenticate'] = `Bearer realm="${REALM}"`;
  } else if (spec.challenge === 'invalid_token') {
    headers['www-authenticate'] =
      `Bearer realm="${REALM}", error="invalid_token", error_description="${quote(error.description)}"`;
  }
  // faas-cli prints a 403's body verbatim: there it is the sentence alone.
  const body = error.code === 'invoke_disabled' ? `${error.description}\n` : JSON.stringify({ error: error.code, error_description: error.description });
  if (error.code === 'invoke_disabled') headers['content-type'] = 'text/plain; charset=utf-8';
  headers['content-length'] = String(Buffer.byteLength(body));
  return { status: spec.status, headers, body };
}
