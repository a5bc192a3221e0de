import { RouteClass } from './forwarding-headers';

/** Which proxied route a request target belongs to, or undefined when it is not proxied. */
export function classifyRoute(url: string): RouteClass | undefined {
  if (url.startsWith('/system/')) return 'system';
  if (url.startsWith('/function/') || url.startsWith('/async-function/')) return 'function';
  return undefined;
}

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
