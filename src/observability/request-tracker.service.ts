import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VerifiedToken } from '../auth/verified-token';
import type { GatewayError } from '../common/gateway-error';
import { callerOf, failureOf } from '../common/request-context';
import { classifyRoute } from '../proxy/route-class';
import { AccessLog } from './access-log';
import { AuditAction, auditActionOf } from './audit-action';
import { AuditService } from './audit.service';
import { MetricsService, RouteLabel } from './metrics.service';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const AUTH_CODES = new Set(['missing_token', 'invalid_token', 'keys_unavailable']);
const TRACK = Symbol('request.track');

export interface Track {
  readonly id: string;
  readonly route: RouteLabel;
  readonly started: number;
  /** The request target as received (frameworks rewrite req.url while routing). */
  readonly url: string;
  peek: (() => Record<string, unknown> | undefined) | undefined;
  /** The audit action, once looked up: null for a call that is not audited. */
  action: AuditAction | null | undefined;
}

type TrackedRequest = IncomingMessage & { [TRACK]?: Track };

/**
 * Sees every request on the public port: gives it a request id (a valid incoming X-Request-Id is
 * kept, else one is made; either way it goes upstream and back to the caller), and when the
 * response ends writes the access log line, the request metrics and, for state-changing calls,
 * the audit record.
 *
 * A made id is this process's random prefix and a sequence number ("3f9c0a7e51d2b846-2s1"):
 * unique across restarts and replicas without a random draw and a UUID's formatting per request.
 * Request ids are labels, not secrets.
 */
@Injectable()
export class RequestTracker {
  private readonly idPrefix = `${randomBytes(8).toString('hex')}-`;
  private sequence = 0;

  constructor(
    private readonly accessLog: AccessLog,
    private readonly metrics: MetricsService,
    private readonly audit: AuditService,
  ) {}

  /** For requests Nest answers: tracks the request and writes its records when the response ends. */
  begin(req: IncomingMessage, res: ServerResponse): void {
    const track = this.start(req, routeOf(req.url ?? '/'));
    res.setHeader('x-request-id', track.id);
    (req as TrackedRequest)[TRACK] = track;
    res.once('close', () => this.end(req as TrackedRequest, res));
  }

  /**
   * For requests the proxy answers: gives the request its id (the proxy sends it upstream and
   * returns it with the response head) and returns its track; the proxy calls finish() from the
   * one 'close' listener it already has.
   */
  start(req: IncomingMessage, route: RouteLabel): Track {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : this.idPrefix + (++this.sequence).toString(36);
    return { id, route, started: performance.now(), url: req.url ?? '/', peek: undefined, action: undefined };
  }

  /** Called once a request is being forwarded: starts copying the body's head for the audit record. */
  forwarded(req: IncomingMessage, track: Track): void {
    const action = (track.action = auditActionOf(req.method, track.url) ?? null);
    if (action?.bodyFields) track.peek = this.audit.peekBody(req);
  }

  /** Records how long the OpenFaaS gateway took to answer. */
  upstreamResponded(track: Track): void {
    this.metrics.upstreamResponded(track.route, (performance.now() - track.started) / 1000);
  }

  private end(req: TrackedRequest, res: ServerResponse): void {
    const track = req[TRACK];
    if (track) this.finish(track, req, res, callerOf(req), failureOf(req));
  }

  /** Writes the access line, the request metrics and, for a state-changing call, the audit record. */
  finish(track: Track, req: IncomingMessage, res: ServerResponse, caller: VerifiedToken | undefined, failure: GatewayError | undefined): void {
    const aborted = !res.writableFinished;
    const status = res.headersSent ? res.statusCode : 499;
    this.metrics.request(track.route, req.method, status);
    if (failure && AUTH_CODES.has(failure.code)) this.metrics.authFailure(failure.reason);
    const url = track.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const record = {
      requestId: track.id,
      method: req.method,
      path,
      status,
      durationMs: performance.now() - track.started,
      route: track.route,
      subject: caller?.subject,
      client: caller?.clientId,
      reason: failure?.reason,
      aborted,
    };
    this.accessLog.write(record, caller);
    if (!caller) return;
    const action = track.action === undefined ? auditActionOf(req.method, url) : track.action;
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
