import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and those this hop has already acted on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

export type RouteClass = 'system' | 'function';

/**
 * Rewrites a proxied request's headers in place before it leaves: the one place where upstream
 * credentials are set. `/system/*` gets the admin Basic credentials instead of the caller's
 * token; invocations lose the caller's Authorization and get nothing, because OpenFaaS hands
 * that header to user code. Hop-by-hop headers go, and so does any header with an underscore,
 * which some servers fold into its dashed twin (X_Forwarded_For into X-Forwarded-For).
 */
export function prepareUpstreamHeaders(req: IncomingMessage, route: RouteClass, adminAuthorization: string): void {
  const headers = req.headers;
  const chunked = headers['transfer-encoding'] !== undefined;
  const named = headers.connection;
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name.includes('_')) delete headers[name];
  }
  if (named) {
    for (const token of named.split(',')) delete headers[token.trim().toLowerCase()];
  }
  // Node frames an upstream body by Content-Length or chunked only when told which.
  if (chunked) headers['transfer-encoding'] = 'chunked';
  if (route === 'system') {
    headers.authorization = adminAuthorization;
  } else {
    delete headers.authorization;
  }
  const client = req.socket.remoteAddress;
  if (client) {
    const prior = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  }
  headers['x-forwarded-host'] ??= headers.host;
  headers['x-forwarded-proto'] ??= 'http';
}

/** The upstream response's headers, less hop-by-hop ones, for the caller. */
export function responseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = upstream.connection;
  for (const name in upstream) {
    if (!HOP_BY_HOP.has(name)) out[name] = upstream[name];
  }
  if (named) {
    for (const token of named.split(',')) delete out[token.trim().toLowerCase()];
  }
  return out;
}
