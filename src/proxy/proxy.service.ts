import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Agent as HttpAgent, ClientRequest, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyServer } from 'http-proxy';
import { TokenVerifierService } from '../auth/token-verifier.service';
import { VerifiedToken } from '../auth/verified-token';
import { GatewayError, hasUnreadBody, toErrorResponse } from '../common/gateway-error';
import { GATEWAY_CONFIG } from '../config/config.module';
import { GatewayConfig } from '../config/gateway-config';
import { RequestTracker, Track } from '../observability/request-tracker.service';
import { UpstreamCredentialsService } from '../openfaas/upstream-credentials.service';
import { Deadlined, DeadlineList } from './deadline-list';
import { framingProblem, prepareUpstreamHeaders, responseHeaders, RouteClass } from './forwarding-headers';
import { classifyRoute, pathProblem } from './route-class';
import { upstreamAgent } from './upstream-agent';
import { StreamedMemory, v8Collector } from './streamed-memory';

const CTX = Symbol('proxy.ctx');
/** What node:http refuses to write in a reason phrase, though its parser accepts it from upstream. */
const UNWRITABLE_REASON = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * http-proxy's request passes, run in order for every request. Only `stream` may run: the others
 * rewrite headers behind our back, and `deleteLength` turns a chunked DELETE or OPTIONS into
 * `Content-Length: 0` followed by the raw body, which OpenFaaS then reads as a second request.
 */
interface ProxyPasses {
  webPasses: Array<{ name: string }>;
}

/** Per-request state the proxy events need; one small object, no closures. */
interface Exchange extends Deadlined {
  readonly owner: ProxyService;
  readonly req: ProxiedRequest;
  readonly res: ServerResponse;
  readonly route: RouteClass;
  readonly track: Track;
  caller: VerifiedToken | undefined;
  failure: GatewayError | undefined;
  upstreamRequest: ClientRequest | undefined;
  upstreamResponse: IncomingMessage | undefined;
  /** Set once the caller has been answered or has gone: later events must not touch the response. */
  settled: boolean;
}

type ProxiedRequest = IncomingMessage & { [CTX]?: Exchange };

/**
 * What http-proxy pipes into the upstream request: its `buffer` option, which its stream pass
 * reads synchronously inside proxy.web(). forward() names the request just before that call. A
 * request with a body is piped as it is; one without (no Content-Length, no Transfer-Encoding)
 * ends the upstream request at once rather than waiting for an empty body to flow through a pipe.
 */
class BodySource {
  request: IncomingMessage | undefined;

  constructor(private readonly memory: StreamedMemory) {}

  pipe(upstream: ClientRequest): ClientRequest {
    const req = this.request;
    this.request = undefined;
    if (req !== undefined && hasBody(req)) {
      req.on('data', this.counted);
      return req.pipe(upstream);
    }
    upstream.end();
    return upstream;
  }

  /** node:http copies every piece of a request body into a buffer of its own: counted as relayed. */
  private readonly counted = (chunk: Buffer): void => this.memory.streamed(chunk.length);
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;
/** The response a connection is serving now (node:http keeps it on the socket). */
type ServingSocket = Socket & { _httpMessage?: ServerResponse | null };

/**
 * The REST passthrough to OpenFaaS. It sits in front of Nest's router on the public listener:
 * `/system/*`, `/function/*` and `/async-function/*` are authenticated by the same verifier as
 * the global guard and streamed through http-proxy without touching Nest's pipeline (no body
 * parser, no interceptors); every other request goes on to Nest, where the global guard denies
 * by default.
 */
@Injectable()
export class ProxyService implements OnModuleDestroy {
  private readonly logger = new Logger(ProxyService.name);
  private readonly agent: HttpAgent;
  private readonly proxy: ReturnType<typeof createProxyServer>;
  /** Frees the read buffers of bodies either way while they are young (see StreamedMemory). */
  private readonly streamedMemory: StreamedMemory;
  private readonly body: BodySource;
  /** upstream_timeout of the exchanges waiting for a response head. */
  private readonly deadlines: DeadlineList<Exchange>;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly verifier: TokenVerifierService,
    private readonly credentials: UpstreamCredentialsService,
    private readonly tracker: RequestTracker,
  ) {
    this.deadlines = new DeadlineList<Exchange>(config.upstreamTimeoutMs, (exchange) => this.onUpstreamTimeout(exchange));
    const collect = v8Collector();
    if (!collect) this.logger.warn('V8 offers no gc() here: the buffers of streamed bodies are freed only by full collections, some 64 MiB apart');
    this.streamedMemory = new StreamedMemory(collect);
    this.body = new BodySource(this.streamedMemory);
    this.agent = upstreamAgent(config.gatewayUrl);
    this.proxy = createProxyServer({
      target: config.gatewayUrl.toString(),
      agent: this.agent,
      changeOrigin: true,
      selfHandleResponse: true,
      // The request target goes out as received (pathProblem has checked it), not re-parsed.
      toProxy: true,
      xfwd: false,
      ws: false,
      buffer: this.body as never,
    });
    keepOnlyStreamPass(this.proxy as unknown as ProxyPasses);
    this.proxy.on('proxyReq', this.onUpstreamRequest as () => void);
    this.proxy.on('proxyRes', this.onUpstreamResponse as () => void);
    // Errors reach the per-call callback; this listener only keeps a stray one from crashing us.
    this.proxy.on('error', (err: Error) => this.logger.warn(`proxy error outside an exchange: ${err.message}`));
  }

  /** Puts the passthrough in front of the server's existing request handler (Nest's). */
  attach(server: Server): void {
    const fallback = server.listeners('request') as Listener[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.handle(req, res, false)) return;
      this.tracker.begin(req, res);
      this.limitIdle(req, res);
      for (const listener of fallback) listener(req, res);
    });
    // Expect: 100-continue: authenticate before inviting the body.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (this.handle(req, res, true)) return;
      this.tracker.begin(req, res);
      this.limitIdle(req, res);
      res.writeContinue();
      for (const listener of fallback) listener(req, res);
    });
  }

  /**
   * write_timeout: the longest a connection may idle while Nest works on a request. Only for the
   * response the connection is serving now: one pipelined behind another response (a followed
   * log) waits for it, and must not cut it.
   */
  private limitIdle(req: IncomingMessage, res: ServerResponse): void {
    if ((req.socket as ServingSocket)._httpMessage === res) req.socket.setTimeout(this.config.writeTimeoutMs);
  }

  /** Answers the request when it is a proxied route; returns false to hand it on. */
  handle(req: ProxiedRequest, res: ServerResponse, expectsContinue: boolean): boolean {
    const url = req.url ?? '';
    const route = classifyRoute(url);
    if (route === undefined) return false;
    // A proxied exchange is bounded by upstream_timeout, then by its two ends: no idle limit left
    // by a request Nest answered earlier on this connection (pipelined) may cut it.
    if (req.socket.timeout) req.socket.setTimeout(0);
    const exchange: Exchange = {
      owner: this,
      req,
      res,
      route,
      track: this.tracker.start(req, route),
      caller: undefined,
      failure: undefined,
      upstreamRequest: undefined,
      upstreamResponse: undefined,
      settled: false,
      deadline: 0,
      prev: undefined,
      next: undefined,
      waiting: false,
    };
    req[CTX] = exchange;
    // The one listener per exchange: frees the upstream side on an abort, then writes the records.
    res.on('close', onCallerClose);
    if (route === 'function' && !this.config.allowInvoke) {
      this.send(req, res, new GatewayError('invoke_disabled', 'Invoking functions through this gateway is turned off (allow_invoke=false).'));
      return true;
    }
    const problem = pathProblem(url) ?? framingProblem(req.headers);
    if (problem) {
      this.send(req, res, new GatewayError('bad_request', `Refused: ${problem}.`));
      return true;
    }
    let verdict: VerifiedToken | Promise<VerifiedToken>;
    try {
      verdict = this.verifier.authenticate(req.headers.authorization, req.socket);
    } catch (err) {
      this.send(req, res, asGatewayError(err, this.logger));
      return true;
    }
    if (verdict instanceof Promise) {
      verdict.then(
        (caller) => this.forward(req, res, route, caller, expectsContinue),
        (err: unknown) => this.send(req, res, asGatewayError(err, this.logger)),
      );
    } else {
      this.forward(req, res, route, verdict, expectsContinue);
    }
    return true;
  }

  /** Sockets the upstream agent holds: in use by an exchange, and kept alive for reuse. */
  upstreamSockets(): { active: number; idle: number } {
    return { active: countSockets(this.agent.sockets), idle: countSockets(this.agent.freeSockets) };
  }

  onModuleDestroy(): void {
    this.deadlines.close();
    this.proxy.close();
    this.agent.destroy();
  }

  private forward(req: ProxiedRequest, res: ServerResponse, route: RouteClass, caller: VerifiedToken, expectsContinue: boolean): void {
    const exchange = req[CTX] as Exchange;
    exchange.caller = caller;
    if (res.destroyed) return;
    prepareUpstreamHeaders(req, route, this.credentials.authorization, exchange.track.id);
    this.deadlines.add(exchange);
    if (expectsContinue) res.writeContinue();
    try {
      // No per-call options: http-proxy would copy its options and re-parse the target each time.
      this.body.request = req;
      this.proxy.web(req, res, this.onUpstreamError as never);
    } catch (err) {
      this.body.request = undefined;
      // node:http refused to build the upstream request; thrown from here it would end the process.
      this.logger.warn(`upstream request ${req.method} ${req.url?.split('?')[0]} not sent: ${(err as Error).message}`);
      this.settle(req, res, new GatewayError('bad_request', 'The request cannot be forwarded to the OpenFaaS gateway as it is.'));
      return;
    }
    // After http-proxy has piped the body, so that looking at it cannot start the flow early.
    this.tracker.forwarded(req, exchange.track);
  }

  private readonly onUpstreamRequest = (upstreamRequest: ClientRequest, req: ProxiedRequest): void => {
    const exchange = req[CTX];
    if (!exchange) return;
    exchange.upstreamRequest = upstreamRequest;
    if (exchange.settled) upstreamRequest.destroy();
  };

  private readonly onUpstreamResponse = (upstream: IncomingMessage, req: ProxiedRequest, res: ServerResponse): void => {
    const exchange = req[CTX];
    if (!exchange || exchange.settled || res.destroyed) {
      upstream.destroy();
      return;
    }
    this.deadlines.remove(exchange);
    this.tracker.upstreamResponded(exchange.track);
    if (exchange.route === 'system' && upstream.statusCode === 401) {
      upstream.destroy();
      this.logger.error('the OpenFaaS gateway refused the admin credentials from the basic-auth secret');
      // A rotation that the secret watcher missed is then picked up by the next request.
      this.credentials.reloadAfterRefusal();
      this.settle(req, res, new GatewayError('upstream_error', "The OpenFaaS gateway refused this gateway's admin credentials; check the basic-auth secret."));
      return;
    }
    if (!this.relayHead(upstream, req, res)) return;
    exchange.settled = true;
    exchange.upstreamResponse = upstream;
    // From here the upstream decides how long the response lasts (a followed log may idle for long):
    // the connection has no idle timer while a proxied exchange runs on it.
    relayBody(upstream, res, this.streamedMemory);
  };

  /**
   * Writes the upstream status and headers for the caller. Whatever node:http would throw on here,
   * inside http-proxy's 'response' event, would end the process: a status below 100 becomes a
   * 502, a reason phrase it will not write is left out.
   */
  private relayHead(upstream: IncomingMessage, req: ProxiedRequest, res: ServerResponse): boolean {
    const status = upstream.statusCode ?? 0;
    const reason = upstream.statusMessage;
    const headers = responseHeaders(upstream.headers);
    // In the head itself: a header set beforehand would put writeHead on node:http's slow path.
    headers['x-request-id'] = (req[CTX] as Exchange).track.id;
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

  private onUpstreamTimeout(exchange: Exchange): void {
    if (exchange.settled) return;
    exchange.upstreamRequest?.destroy();
    this.settle(exchange.req, exchange.res, new GatewayError('upstream_timeout', `The OpenFaaS gateway did not answer within ${this.config.upstreamTimeoutMs / 1000}s (upstream_timeout).`));
  }

  private readonly onUpstreamError = (err: NodeJS.ErrnoException, req: ProxiedRequest, res: ServerResponse): void => {
    const exchange = req[CTX];
    if (!exchange || exchange.settled) return;
    exchange.upstreamRequest?.destroy();
    if (res.headersSent) {
      exchange.settled = true;
      res.destroy();
      return;
    }
    this.logger.warn(`upstream request ${req.method} ${req.url?.split('?')[0]} failed: ${err.code ?? err.message}`);
    this.settle(req, res, new GatewayError('upstream_unavailable', 'The OpenFaaS gateway could not be reached.'));
  };

  /** Called by onCallerClose (below) with the exchange of the response that closed. */
  closed(req: ProxiedRequest, res: ServerResponse, exchange: Exchange): void {
    this.deadlines.remove(exchange);
    if (!res.writableFinished) {
      // The caller went away mid-upload or mid-download: free the upstream request and socket.
      exchange.upstreamRequest?.destroy();
      exchange.upstreamResponse?.destroy();
      exchange.settled = true;
    }
    this.tracker.finish(exchange.track, req, res, exchange.caller, exchange.failure);
  }

  private settle(req: ProxiedRequest, res: ServerResponse, error: GatewayError): void {
    const exchange = req[CTX];
    if (exchange) {
      this.deadlines.remove(exchange);
      exchange.settled = true;
    }
    this.send(req, res, error);
  }

  private send(req: ProxiedRequest, res: ServerResponse, error: GatewayError): void {
    const exchange = req[CTX];
    if (exchange) exchange.failure = error;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const { status, headers, body } = toErrorResponse(error);
    if (exchange) headers['x-request-id'] = exchange.track.id;
    // An unread request body cannot be skipped on a kept-alive connection.
    if (hasUnreadBody(req)) headers.connection = 'close';
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

/**
 * The 'close' listener of every proxied response, shared rather than a closure per exchange;
 * node:http calls it with the response as `this`.
 */
function onCallerClose(this: ServerResponse & { req: ProxiedRequest }): void {
  const exchange = this.req[CTX];
  exchange?.owner.closed(this.req, this, exchange);
}

/**
 * Streams the upstream body to the caller, chunk by chunk, pausing while the caller's socket is
 * full. Three listeners instead of pipe()'s eight added and removed again, and rather than
 * stream.pipeline, which costs every exchange an AbortController, end-of-stream watchers and, when
 * it finishes, a DOMException with a stack trace. The ways to break: OpenFaaS cutting the body
 * cuts the caller's (a hang otherwise); the caller going away destroys the upstream response
 * (onCallerClose), after which no more chunks come. Each chunk is counted towards the next
 * young-generation collection, which frees the read buffers already relayed.
 */
function relayBody(upstream: IncomingMessage, res: ServerResponse, memory: StreamedMemory): void {
  upstream.on('data', (chunk: Buffer) => {
    memory.streamed(chunk.length);
    if (!res.write(chunk)) {
      upstream.pause();
      res.once('drain', () => upstream.resume());
    }
  });
  upstream.on('end', () => res.end());
  upstream.on('close', () => {
    if (!upstream.complete) res.destroy();
  });
}

/** Whether a request carries a body (RFC 9112 §6.3: a request without either header has none). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
}

function keepOnlyStreamPass(proxy: ProxyPasses): void {
  const stream = proxy.webPasses.filter((pass) => pass.name === 'stream');
  if (stream.length !== 1) throw new Error('http-proxy has no single "stream" web pass; check the http-proxy version');
  proxy.webPasses.splice(0, proxy.webPasses.length, ...stream);
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
