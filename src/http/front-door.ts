import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { GatewayError, hasUnreadBody, toErrorResponse } from '../common/gateway-error';
import { classifyRoute, isProxied } from '../common/route-class';
import { RequestTracker } from '../observability/request-tracker.service';
import { ProxyService } from '../proxy/proxy.service';

/**
 * The public port's one request listener, in front of Nest's. Every request is tracked (request
 * id, access line, metrics), then: `/system/*`, `/function/*` and `/async-function/*` stream
 * through the proxy without touching Nest; `/graphql` and `/healthz`, spelled exactly, go to
 * Nest, where the global guard denies by default; anything else is a 404 answered here, before
 * any framework code (router, body parser, GraphQL) sees it.
 */
export function attachFrontDoor(server: Server, proxy: ProxyService, tracker: RequestTracker, writeTimeoutMs: number): void {
  const nest = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const handle = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    const route = classifyRoute(req.url ?? '');
    const track = tracker.start(req, res, route);
    if (isProxied(route)) return proxy.handle(req, res, route, track, expectsContinue);
    res.setHeader('x-request-id', track.id);
    if (route === 'other') {
      track.failure = new GatewayError('not_found', `No route for ${req.method} ${(req.url ?? '').split('?')[0].slice(0, 200)}.`);
      return send(req, res, track.failure);
    }
    // write_timeout: the longest a connection may idle while Nest works on this request; node
    // applies it once this response is the one the connection serves (not behind a pipelined one).
    res.setTimeout(writeTimeoutMs);
    if (expectsContinue) res.writeContinue();
    for (const listener of nest) listener(req, res);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => handle(req, res, false));
  // Expect: 100-continue: the body is invited only once the request may go on.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handle(req, res, true));
}

function send(req: IncomingMessage, res: ServerResponse, error: GatewayError): void {
  const { status, headers, body } = toErrorResponse(error);
  if (hasUnreadBody(req)) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
