import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and those this hop has already acted on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  // A Trailer header on a body that is not sent chunked makes node:http throw (node-http-proxy #1647).
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Answered here; forwarded, it would also make http-proxy skip its proxyReq event.
  'expect',
]);

export type RouteClass = 'system' | 'function';

/**
 * Refuses a request body framing this hop cannot pass on faithfully. Node's parser has already
 * refused the ambiguous ones (Transfer-Encoding with Content-Length, duplicate or listed
 * Content-Length, chunked not last); what it lets through with a coding besides chunked
 * ("gzip, chunked") would reach OpenFaaS with that coding silently dropped.
 */
export function framingProblem(headers: IncomingHttpHeaders): string | undefined {
  const coding = headers['transfer-encoding'];
  if (coding === undefined || coding.trim().toLowerCase() === 'chunked') return undefined;
  return 'Transfer-Encoding other than chunked is not supported';
}

/**
 * Rewrites a proxied request's headers in place before it leaves: the one place where upstream
 * credentials are set. `/system/*` gets the admin Basic credentials instead of the caller's
 * token; invocations lose the caller's Authorization and get nothing, because OpenFaaS hands
 * that header to user code. Hop-by-hop headers go, and so does any header with an underscore,
 * which some servers fold into its dashed twin (X_Forwarded_For into X-Forwarded-For).
 *
 * The body's framing is set last, from what Node's parser framed it by, so that no header the
 * caller names in Connection can unframe it: a body without its length would reach OpenFaaS as
 * the start of another request on a pooled connection.
 */
export function prepareUpstreamHeaders(req: IncomingMessage, route: RouteClass, adminAuthorization: string): void {
  const headers = req.headers;
  const length = headers['content-length'];
  const chunked = headers['transfer-encoding'] !== undefined;
  const named = headers.connection;
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name.includes('_')) delete headers[name];
  }
  if (named) {
    for (const token of named.split(',')) delete headers[token.trim().toLowerCase()];
  }
  if (chunked) {
    headers['transfer-encoding'] = 'chunked';
  } else if (length !== undefined) {
    headers['content-length'] = length;
  }
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
