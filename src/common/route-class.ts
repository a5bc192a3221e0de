/**
 * Which door of the public port a request target belongs to: the proxied OpenFaaS routes, the two
 * routes Nest answers, or none (answered 404 before any framework code runs).
 */
export type RouteClass = 'system' | 'function' | 'graphql' | 'health' | 'other';

/** The routes streamed to OpenFaaS. */
export type ProxiedRoute = 'system' | 'function';

/**
 * Classifies a request target as received. Only origin-form targets count, spelled exactly:
 * `/GRAPHQL`, `/graphql/x`, `/graphql/.` and `http://host/graphql` are all `other`, so no router's
 * case-folding, prefix matching or URL parsing can take them somewhere a check did not look.
 */
export function classifyRoute(url: string): RouteClass {
  if (url.startsWith('/system/')) return 'system';
  if (url.startsWith('/function/') || url.startsWith('/async-function/')) return 'function';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path === '/graphql') return 'graphql';
  if (path === '/healthz') return 'health';
  return 'other';
}

export function isProxied(route: RouteClass): route is ProxiedRoute {
  return route === 'system' || route === 'function';
}
