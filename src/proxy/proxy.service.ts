import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Agent as HttpAgent, ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { createProxyServer } from 'http-proxy';
import { formatResource } from '../access/access-actions';
import { forbidden, Grants } from '../access/access-grants';
import { classifyRequest, filterNamespaces, isPermitted, PermissionCheck } from '../access/request-permission';
import { AccessService } from '../access/access.service';
import { TokenVerifierService } from '../auth/token-verifier.service';
import { VerifiedToken } from '../auth/verified-token';
import { GatewayError, hasUnreadBody, toErrorResponse } from '../common/gateway-error';
import type { ProxiedRoute } from '../common/route-class';
import { GATEWAY_CONFIG } from '../config/config.module';
import { GatewayConfig } from '../config/gateway-config';
import { RequestTracker, Track } from '../observability/request-tracker.service';
import { UpstreamCredentialsService } from '../openfaas/upstream-credentials.service';
import { prepareUpstreamHeaders, responseHeaders } from './forwarding-headers';
import { framingProblem, pathProblem } from './request-problems';
import { readRequestBody, RequestBodyTooLarge } from './request-body';

/** The largest JSON body read to decide a permission (then forwarded byte for byte). */
export const PERMISSION_BODY_LIMIT = 1024 * 1024;
/** The largest /system/namespaces answer filtered for a token's namespaces. */
const NAMESPACES_ANSWER_LIMIT = 1024 * 1024;

/** What node:http refuses to write in a reason phrase, though its parser accepts it from upstream. */
const UNWRITABLE_REASON = /[^\t\x20-\x7e\x80-\xff]/;
const EXCHANGE = Symbol('proxy.exchange');

/** One proxied request on its way: what the proxy events need to find again. */
interface Exchange {
  readonly route: ProxiedRoute;
  readonly track: Track;
  upstreamRequest: ClientRequest | undefined;
  upstreamResponse: IncomingMessage | undefined;
  /** upstream_timeout, until the response head arrives. */
  timer: NodeJS.Timeout | undefined;
  /** Set once the caller has been answered or has gone: later events must not touch the response. */
  settled: boolean;
  /** GET /system/namespaces under an access file: the answer is cut to these grants' namespaces. */
  namespacesFor: Grants | undefined;
}

type ProxiedRequest = IncomingMessage & { [EXCHANGE]?: Exchange };

/**
 * The REST passthrough to OpenFaaS. The front door hands it `/system/*`, `/function/*` and
 * `/async-function/*`; a request is read top to bottom here: refused early (allow_invoke, path,
 * framing), authenticated (a cached verdict, or the verifier), authorized when an access file is
 * in force (action and resource from the route, its query and, for the routes that name their
 * target in it, the JSON body, read within a cap and then forwarded byte for byte), its headers
 * replaced (the one place upstream credentials are set), then streamed both ways by http-proxy,
 * bounded by upstream_timeout until the response head arrives.
 */
@Injectable()
export class ProxyService implements OnModuleDestroy {
  private readonly logger = new Logger(ProxyService.name);
  private readonly agent: HttpAgent;
  private readonly proxy: ReturnType<typeof createProxyServer>;
  /** Set when the gateway drains: every response head from then on asks the caller to close its connection. */
  private closingConnections = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly verifier: TokenVerifierService,
    private readonly credentials: UpstreamCredentialsService,
    private readonly tracker: RequestTracker,
    private readonly access: AccessService,
  ) {
    const agentOptions = { keepAlive: true, keepAliveMsecs: 15_000 };
    this.agent = config.gatewayUrl.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.proxy = createProxyServer({
      target: config.gatewayUrl.toString(),
      agent: this.agent,
      changeOrigin: true,
      // We relay the response ourselves: its headers are filtered, and a 401 from OpenFaaS is ours to explain.
      selfHandleResponse: true,
      // The request target goes out as received (pathProblem has checked it), not re-parsed.
      toProxy: true,
      xfwd: false,
      ws: false,
    });
    this.proxy.on('proxyReq', this.onUpstreamRequest as () => void);
    this.proxy.on('proxyRes', this.onUpstreamResponse as () => void);
    // Errors reach the per-call callback; this listener only keeps a stray one from crashing us.
    this.proxy.on('error', (err: Error) => this.logger.warn(`proxy error outside an exchange: ${err.message}`));
  }

  /** Answers one proxied request (the front door has classified and tracked it). */
  handle(req: ProxiedRequest, res: ServerResponse, route: ProxiedRoute, track: Track, expectsContinue: boolean): void {
    // A proxied exchange is bounded by upstream_timeout, then by its two ends: no idle limit left
    // by a request Nest answered earlier on this connection may cut it.
    if (req.socket.timeout) req.socket.setTimeout(0);
    const exchange: Exchange = { route, track, upstreamRequest: undefined, upstreamResponse: undefined, timer: undefined, settled: false, namespacesFor: undefined };
    req[EXCHANGE] = exchange;
    res.once('close', () => this.callerClosed(res, exchange));
    if (route === 'function' && !this.config.allowInvoke) {
      return this.refuse(req, res, new GatewayError('invoke_disabled', 'Invoking functions through this gateway is turned off (allow_invoke=false).'));
    }
    const problem = pathProblem(req.url ?? '') ?? framingProblem(req);
    if (problem) return this.refuse(req, res, new GatewayError('bad_request', `Refused: ${problem}.`));
    let verdict: VerifiedToken | Promise<VerifiedToken>;
    try {
      verdict = this.verifier.authenticate(req.headers.authorization);
    } catch (err) {
      return this.refuse(req, res, asGatewayError(err, this.logger));
    }
    if (verdict instanceof Promise) {
      verdict.then(
        (caller) => this.forward(req, res, exchange, caller, expectsContinue),
        (err: unknown) => this.refuse(req, res, asGatewayError(err, this.logger)),
      );
    } else {
      this.forward(req, res, exchange, verdict, expectsContinue);
    }
  }

  /** Shutdown: responses whose head is still to be written tell their callers to close the connection. */
  closeConnectionsAfterResponses(): void {
    this.closingConnections = true;
  }

  /** Sockets the upstream agent holds: in use by an exchange, and kept alive for reuse. */
  upstreamSockets(): { active: number; idle: number } {
    return { active: countSockets(this.agent.sockets), idle: countSockets(this.agent.freeSockets) };
  }

  onModuleDestroy(): void {
    this.proxy.close();
    this.agent.destroy();
  }

  private forward(req: ProxiedRequest, res: ServerResponse, exchange: Exchange, caller: VerifiedToken, expectsContinue: boolean): void {
    exchange.track.caller = caller;
    if (res.destroyed) return;
    const grants = this.access.grantsOf(caller);
    if (grants === undefined) return this.send(req, res, exchange, expectsContinue, undefined);
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const permission = classifyRequest(req.method ?? '', q === -1 ? url : url.slice(0, q), q === -1 ? undefined : url.slice(q + 1), this.config.defaultNamespace);
    if (permission.kind === 'refuse') return this.refuse(req, res, new GatewayError('bad_request', permission.message));
    if (permission.kind === 'check') {
      if (!this.authorize(req, res, exchange, grants, permission)) return;
      return this.send(req, res, exchange, expectsContinue, undefined);
    }
    // The target is named in the body: read it (the caller is asked for it first), decide on those bytes, send the same bytes.
    if (expectsContinue) res.writeContinue();
    readRequestBody(req, PERMISSION_BODY_LIMIT).then(
      (body) => {
        const decided = permission.decide(body);
        if (decided.kind === 'refuse') return this.refuse(req, res, new GatewayError('bad_request', decided.message));
        if (!this.authorize(req, res, exchange, grants, decided)) return;
        this.send(req, res, exchange, false, body);
      },
      (err: Error) => {
        if (err instanceof RequestBodyTooLarge) {
          return this.refuse(req, res, new GatewayError('payload_too_large', `The request body is larger than ${PERMISSION_BODY_LIMIT / 1024} KiB, the most this gateway reads to check a permission.`));
        }
        // The caller went away mid-body: nothing to answer.
        res.destroy();
      },
    );
  }

  /** Whether the caller's grants cover the request; refuses it with 403 naming what it lacked when not. */
  private authorize(req: ProxiedRequest, res: ServerResponse, exchange: Exchange, grants: Grants, check: PermissionCheck): boolean {
    const allowed = isPermitted(grants, check);
    exchange.track.access = {
      decision: allowed ? 'allowed' : 'denied',
      action: check.action,
      resource: formatResource(check.resource),
      roles: grants.roles,
      namespace: check.namespace,
      name: check.name,
    };
    if (!allowed) {
      this.refuse(req, res, forbidden(grants, check.action, formatResource(check.resource)));
      return false;
    }
    if (check.filtersNamespaces) {
      exchange.namespacesFor = grants;
      // The answer is read to filter it: plain JSON, not a compressed stream.
      delete req.headers['accept-encoding'];
    }
    return true;
  }

  /** Sends the request on: `body` is what was read to decide a permission, else the request streams through. */
  private send(req: ProxiedRequest, res: ServerResponse, exchange: Exchange, expectsContinue: boolean, body: Buffer | undefined): void {
    prepareUpstreamHeaders(req, exchange.route, this.credentials.authorization, exchange.track.id);
    exchange.timer = setTimeout(() => this.upstreamTimedOut(req, res, exchange), this.config.upstreamTimeoutMs);
    if (expectsContinue) res.writeContinue();
    try {
      if (body === undefined) this.proxy.web(req, res, this.onUpstreamError as never);
      else this.proxy.web(req, res, { buffer: Readable.from([body]) }, this.onUpstreamError as never);
    } catch (err) {
      // node:http refused to build the upstream request; thrown from here it would end the process.
      this.logger.warn(`upstream request ${req.method} ${pathOf(req)} not sent: ${(err as Error).message}`);
      this.settle(req, res, new GatewayError('bad_request', 'The request cannot be forwarded to the OpenFaaS gateway as it is.'));
      return;
    }
    // After http-proxy has piped the body, so that looking at it cannot start the flow early.
    this.tracker.forwarded(req, exchange.track, body);
  }

  private readonly onUpstreamRequest = (upstreamRequest: ClientRequest, req: ProxiedRequest): void => {
    const exchange = req[EXCHANGE];
    if (!exchange) return;
    exchange.upstreamRequest = upstreamRequest;
    if (exchange.settled) upstreamRequest.destroy();
  };

  private readonly onUpstreamResponse = (upstream: IncomingMessage, req: ProxiedRequest, res: ServerResponse): void => {
    const exchange = req[EXCHANGE];
    if (!exchange || exchange.settled || res.destroyed) {
      upstream.destroy();
      return;
    }
    clearTimeout(exchange.timer);
    this.tracker.upstreamResponded(exchange.track);
    if (exchange.route === 'system' && upstream.statusCode === 401) {
      upstream.destroy();
      this.logger.error('the OpenFaaS gateway refused the admin credentials from the basic-auth secret');
      // A rotation that the secret watcher missed is then picked up by the next request.
      this.credentials.reloadAfterRefusal();
      this.settle(req, res, new GatewayError('upstream_error', "The OpenFaaS gateway refused this gateway's admin credentials; check the basic-auth secret."));
      return;
    }
    if (exchange.namespacesFor !== undefined && upstream.statusCode === 200) {
      exchange.settled = true;
      exchange.upstreamResponse = upstream;
      return this.relayNamespaces(upstream, req, res, exchange, exchange.namespacesFor);
    }
    if (!this.relayHead(upstream, req, res, exchange)) return;
    exchange.settled = true;
    exchange.upstreamResponse = upstream;
    // OpenFaaS cutting the body cuts the caller's too (it would hang otherwise); the caller going
    // away destroys the upstream response (callerClosed).
    upstream.on('close', () => {
      if (!upstream.complete) res.destroy();
    });
    upstream.pipe(res);
  };

  /**
   * Writes the upstream status and headers for the caller. Whatever node:http would throw on here,
   * inside http-proxy's 'proxyRes' event, would end the process: a status below 100 becomes a
   * 502, a reason phrase it will not write is left out.
   */
  private relayHead(upstream: IncomingMessage, req: ProxiedRequest, res: ServerResponse, exchange: Exchange): boolean {
    const status = upstream.statusCode ?? 0;
    const reason = upstream.statusMessage;
    const headers = responseHeaders(upstream.headers);
    headers['x-request-id'] = exchange.track.id;
    if (this.closingConnections) headers.connection = 'close';
    try {
      if (status < 100) throw new RangeError(`status ${status}`);
      res.writeHead(status, reason && UNWRITABLE_REASON.test(reason) ? undefined : reason, headers);
    } catch (err) {
      upstream.destroy();
      for (const name in headers) res.removeHeader(name);
      this.logger.warn(`the OpenFaaS gateway sent a response that cannot be relayed: ${(err as Error).message}`);
      this.settle(req, res, new GatewayError('upstream_error', 'The OpenFaaS gateway sent a response this gateway cannot relay.'));
      return false;
    }
    // A body of unknown length is a stream (a followed log): the caller learns at once that it has
    // started, as OpenFaaS told us. Other heads go out together with the first body bytes.
    if (headers['content-length'] === undefined) res.flushHeaders();
    return true;
  }

  /** GET /system/namespaces under an access file: the answer holds only the namespaces the token holds any action in. */
  private relayNamespaces(upstream: IncomingMessage, req: ProxiedRequest, res: ServerResponse, exchange: Exchange, grants: Grants): void {
    readRequestBody(upstream, NAMESPACES_ANSWER_LIMIT).then(
      (body) => {
        let names: unknown;
        try {
          names = JSON.parse(body.toString('utf8'));
        } catch {
          names = undefined;
        }
        if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
          return this.refuse(req, res, new GatewayError('upstream_error', 'The OpenFaaS gateway answered /system/namespaces with something other than a list of names.'));
        }
        const filtered = JSON.stringify(filterNamespaces(grants, names));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(filtered), 'x-request-id': exchange.track.id });
        res.end(req.method === 'HEAD' ? undefined : filtered);
      },
      () => {
        upstream.destroy();
        this.refuse(req, res, new GatewayError('upstream_error', 'The OpenFaaS gateway sent a /system/namespaces answer this gateway cannot read.'));
      },
    );
  }

  private upstreamTimedOut(req: ProxiedRequest, res: ServerResponse, exchange: Exchange): void {
    if (exchange.settled) return;
    exchange.upstreamRequest?.destroy();
    this.settle(req, res, new GatewayError('upstream_timeout', `The OpenFaaS gateway did not answer within ${this.config.upstreamTimeoutMs / 1000}s (upstream_timeout).`));
  }

  private readonly onUpstreamError = (err: NodeJS.ErrnoException, req: ProxiedRequest, res: ServerResponse): void => {
    const exchange = req[EXCHANGE];
    if (!exchange || exchange.settled) return;
    clearTimeout(exchange.timer);
    exchange.upstreamRequest?.destroy();
    if (res.headersSent) {
      exchange.settled = true;
      res.destroy();
      return;
    }
    this.logger.warn(`upstream request ${req.method} ${pathOf(req)} failed: ${err.code ?? err.message}`);
    this.settle(req, res, new GatewayError('upstream_unavailable', 'The OpenFaaS gateway could not be reached.'));
  };

  /** The caller's side closed: after the whole response, or mid-upload or mid-download (then free the upstream side). */
  private callerClosed(res: ServerResponse, exchange: Exchange): void {
    clearTimeout(exchange.timer);
    if (res.writableFinished) return;
    exchange.upstreamRequest?.destroy();
    exchange.upstreamResponse?.destroy();
    exchange.settled = true;
  }

  private settle(req: ProxiedRequest, res: ServerResponse, error: GatewayError): void {
    const exchange = req[EXCHANGE];
    if (exchange) {
      clearTimeout(exchange.timer);
      exchange.settled = true;
    }
    this.refuse(req, res, error);
  }

  /** Answers with the gateway's JSON error. */
  private refuse(req: ProxiedRequest, res: ServerResponse, error: GatewayError): void {
    const exchange = req[EXCHANGE];
    if (exchange) exchange.track.failure = error;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const { status, headers, body } = toErrorResponse(error);
    if (exchange) headers['x-request-id'] = exchange.track.id;
    // An unread request body cannot be skipped on a kept-alive connection.
    if (hasUnreadBody(req) || this.closingConnections) headers.connection = 'close';
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '').split('?')[0];
}

function countSockets(pool: NodeJS.ReadOnlyDict<unknown[]>): number {
  let n = 0;
  for (const name in pool) n += pool[name]?.length ?? 0;
  return n;
}

function asGatewayError(err: unknown, logger: Logger): GatewayError {
  if (err instanceof GatewayError) return err;
  logger.error(`unexpected failure while authenticating: ${(err as Error)?.stack ?? String(err)}`);
  return new GatewayError('unavailable', 'The gateway could not check this token right now; try again.');
}
