import type { IncomingMessage } from 'node:http';

const DOT_SEGMENT = /(?:^|\/)\.{1,2}(?:\/|$)/;

/**
 * Refuses paths that a server behind us might resolve to another route than the one we
 * authorized: dot segments (also percent-encoded, and between encoded slashes, which a Go router
 * decodes before it cleans the path), backslashes, empty segments, NUL.
 */
export function pathProblem(url: string): string | undefined {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  // The common case: nothing encoded, no dots, no doubled slash, no backslash.
  if (!path.includes('%') && !path.includes('.') && !path.includes('//') && !path.includes('\\')) return undefined;
  if (path.includes('//') || path.includes('\\') || /%(?:5c|00)/i.test(path)) {
    return 'the path must not contain empty segments, backslashes or NUL';
  }
  if (DOT_SEGMENT.test(path.replace(/%2e/gi, '.').replace(/%2f/gi, '/'))) {
    return 'the path must not contain . or .. segments';
  }
  return undefined;
}

/**
 * Refuses a request body framing this hop cannot pass on faithfully. Node's parser has already
 * refused the ambiguous ones (Transfer-Encoding with Content-Length, duplicate or listed
 * Content-Length, chunked not last). What it lets through with a coding besides chunked
 * ("gzip, chunked") would reach OpenFaaS with that coding silently dropped. And http-proxy's
 * `deleteLength` pass gives a DELETE or OPTIONS without Content-Length a `Content-Length: 0` and
 * drops its Transfer-Encoding (node-http-proxy #1343), so a chunked body would follow as the
 * start of another request on a pooled connection: such a body must come with its length.
 */
export function framingProblem(req: IncomingMessage): string | undefined {
  const coding = req.headers['transfer-encoding'];
  if (coding === undefined) return undefined;
  if (coding.trim().toLowerCase() !== 'chunked') return 'Transfer-Encoding other than chunked is not supported';
  if (req.method === 'DELETE' || req.method === 'OPTIONS') return `a ${req.method} body must be sent with Content-Length, not chunked`;
  return undefined;
}
