import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { ProxiedRoute } from '../common/route-class';

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
  // Answered here (100 Continue once the token has passed).
  'expect',
]);


/**
 * Replaces a proxied request's headers with those to send upstream: the one place where upstream
 * credentials are set. `/system/*` gets the admin Basic credentials instead of the caller's
 * token; invocations lose the caller's Authorization and get nothing, because OpenFaaS hands
 * that header to user code. Hop-by-hop headers go, and so does any header with an underscore,
 * which some servers fold into its dashed twin (X_Forwarded_For into X-Forwarded-For). The
 * request id, when given, replaces whatever X-Request-Id the caller sent.
 *
 * The body's framing is set last, from what Node's parser framed it by, so that no header the
 * caller names in Connection can unframe it: a body without its length would reach OpenFaaS as
 * the start of another request on a pooled connection.
 */
export function prepareUpstreamHeaders(req: IncomingMessage, route: ProxiedRoute, adminAuthorization: string, requestId?: string): void {
  const given = req.headers;
  const named = given.connection;
  // Rare: the names a caller lists in Connection go too ("keep-alive" and "close" name none of their own).
  const listed =
    named === undefined || named === 'keep-alive' || named === 'close' ? undefined : new Set(named.split(',').map((token) => token.trim().toLowerCase()));
  // A new object rather than deletes, which would turn the headers into a slow dictionary.
  const out: IncomingHttpHeaders = {};
  for (const name in given) {
    if (name === 'authorization' || HOP_BY_HOP.has(name) || name.includes('_') || listed?.has(name)) continue;
    out[name] = given[name];
  }
  if (given['transfer-encoding'] !== undefined) {
    out['transfer-encoding'] = 'chunked';
  } else if (given['content-length'] !== undefined) {
    out['content-length'] = given['content-length'];
  }
  if (route === 'system') out.authorization = adminAuthorization;
  if (requestId !== undefined) out['x-request-id'] = requestId;
  const client = req.socket.remoteAddress;
  if (client) {
    const prior = out['x-forwarded-for'];
    out['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  }
  if (out['x-forwarded-host'] === undefined && out.host !== undefined) out['x-forwarded-host'] = out.host;
  out['x-forwarded-proto'] ??= 'http';
  req.headers = out;
}

/** The upstream response's headers, less hop-by-hop ones, for the caller. */
export function responseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = upstream.connection;
  for (const name in upstream) {
    if (!HOP_BY_HOP.has(name)) out[name] = upstream[name];
  }
  // "keep-alive" and "close", what OpenFaaS sends, name no header of their own.
  if (named !== undefined && named !== 'keep-alive' && named !== 'close') {
    for (const token of named.split(',')) delete out[token.trim().toLowerCase()];
  }
  return out;
}
