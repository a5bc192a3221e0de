import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { callerOf, failureOf } from '../common/request-context';
import { classifyRoute } from '../proxy/route-class';
import { auditActionOf } from './audit-action';
import { AuditService } from './audit.service';
import { MetricsService, RouteLabel } from './metrics.service';
import { APP_LOGGER } from './observability.tokens';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const AUTH_CODES = new Set(['missing_token', 'invalid_token', 'keys_unavailable']);
const TRACK = Symbol('request.track');

interface Track {
  readonly id: string;
  readonly route: RouteLabel;
  readonly started: number;
  /** The request target as received (frameworks rewrite req.url while routing). */
  readonly url: string;
  peek: (() => Record<string, unknown> | undefined) | undefined;
}

type TrackedRequest = IncomingMessage & { [TRACK]?: Track };

/**
 * Sees every request on the public port: gives it a request id (a valid incoming X-Request-Id is
 * kept, else one is made; either way it goes upstream and back to the caller), and when the
 * response ends writes the access log line, the request metrics and, for state-changing calls,
 * the audit record.
 */
@Injectable()
export class RequestTracker {
  constructor(
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly metrics: MetricsService,
    private readonly audit: AuditService,
  ) {}

  begin(req: IncomingMessage, res: ServerResponse): void {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    req.headers['x-request-id'] = id;
    res.setHeader('x-request-id', id);
    const url = req.url ?? '/';
    (req as TrackedRequest)[TRACK] = { id, route: routeOf(url), started: performance.now(), url, peek: undefined };
    res.once('close', () => this.end(req as TrackedRequest, res));
  }

  /** Called once a request is being forwarded: starts copying the body's head for the audit record. */
  forwarded(req: IncomingMessage): void {
    const track = (req as TrackedRequest)[TRACK];
    if (!track) return;
    const action = auditActionOf(req.method, req.url ?? '');
    if (action?.bodyFields) track.peek = this.audit.peekBody(req);
  }

  /** Records how long the OpenFaaS gateway took to answer. */
  upstreamResponded(req: IncomingMessage): void {
    const track = (req as TrackedRequest)[TRACK];
    if (track) this.metrics.upstreamResponded(track.route, (performance.now() - track.started) / 1000);
  }

  private end(req: TrackedRequest, res: ServerResponse): void {
    const track = req[TRACK];
    if (!track) return;
    const aborted = !res.writableFinished;
    const status = res.headersSent ? res.statusCode : 499;
    const failure = failureOf(req);
    const caller = callerOf(req);
    this.metrics.request(track.route, req.method, status);
    if (failure && AUTH_CODES.has(failure.code)) this.metrics.authFailure(failure.reason);
    const url = track.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    this.logger.info(
      {
        requestId: track.id,
        method: req.method,
        path,
        status,
        durationMs: Math.round((performance.now() - track.started) * 10) / 10,
        route: track.route,
        subject: caller?.subject,
        client: caller?.clientId,
        reason: failure?.reason,
        aborted: aborted || undefined,
      },
      'request',
    );
    if (!caller) return;
    const action = auditActionOf(req.method, url);
    if (!action) return;
    this.audit.record(action, track.peek?.(), {
      requestId: track.id,
      method: req.method ?? '',
      path,
      query: q === -1 ? '' : url.slice(q + 1),
      status,
      outcome: aborted ? 'aborted' : status < 400 ? 'success' : 'failure',
      issuer: caller.issuer,
      subject: caller.subject,
      client: caller.clientId,
    });
  }
}

function routeOf(url: string): RouteLabel {
  const proxied = classifyRoute(url);
  if (proxied) return proxied;
  if (url === '/graphql' || url.startsWith('/graphql?')) return 'graphql';
  if (url === '/healthz' || url.startsWith('/healthz?')) return 'health';
  return 'other';
}
