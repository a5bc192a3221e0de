import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VerifiedToken } from '../auth/verified-token';
import type { GatewayError } from '../common/gateway-error';
import type { RouteClass } from '../common/route-class';
import { AccessLog } from './access-log';
import { AuditAction, auditActionOf } from './audit-action';
import { AccessDecision, AuditService } from './audit.service';
import { MetricsService } from './metrics.service';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const AUTH_CODES = new Set(['missing_token', 'invalid_token', 'keys_unavailable']);
const TRACK = Symbol('request.track');

/** What the records of one request need, filled in as it goes. */
export interface Track {
  readonly id: string;
  readonly route: RouteClass;
  readonly started: number;
  /** The request target as received (frameworks rewrite req.url while routing). */
  readonly url: string;
  /** Who made it, once their token passed (Nest routes: passport's req.user instead). */
  caller: VerifiedToken | undefined;
  /** Why it was refused, if it was. */
  failure: GatewayError | undefined;
  peek: (() => Record<string, unknown> | undefined) | undefined;
  /** The audit action, once looked up: null for a call that is not audited. */
  action: AuditAction | null | undefined;
  /** The permission decision, when an access file is in force. */
  access: AccessDecision | undefined;
}

type TrackedRequest = IncomingMessage & { [TRACK]?: Track; user?: VerifiedToken };

/** Notes why a request was refused, for its access line and metrics (Nest's doors call it). */
export function noteFailure(req: IncomingMessage, error: GatewayError): void {
  const track = (req as TrackedRequest)[TRACK];
  if (track) track.failure = error;
}

/**
 * Sees every request on the public port: gives it a request id (a valid incoming X-Request-Id is
 * kept, else one is made; either way it goes upstream and back to the caller), and when the
 * response closes writes the access log line, the request metrics and, for state-changing calls,
 * the audit record. A made id is this process's random prefix and a sequence number: unique
 * across restarts and replicas without a random draw per request. Request ids are labels, not secrets.
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

  /** Starts tracking a request; its records are written when the response closes. */
  start(req: IncomingMessage, res: ServerResponse, route: RouteClass): Track {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : this.idPrefix + (++this.sequence).toString(36);
    const track: Track = { id, route, started: performance.now(), url: req.url ?? '/', caller: undefined, failure: undefined, peek: undefined, action: undefined, access: undefined };
    (req as TrackedRequest)[TRACK] = track;
    res.once('close', () => this.finish(track, req as TrackedRequest, res));
    return track;
  }

  /**
   * Called once a request is being forwarded: starts copying the body's head for the audit record
   * (or takes the body already read to check a permission).
   */
  forwarded(req: IncomingMessage, track: Track, body?: Buffer): void {
    const action = (track.action = auditActionOf(req.method, track.url) ?? null);
    if (action?.bodyFields) track.peek = this.audit.peekBody(req, body);
  }

  /** Records how long the OpenFaaS gateway took to answer. */
  upstreamResponded(track: Track): void {
    this.metrics.upstreamResponded(track.route, (performance.now() - track.started) / 1000);
  }

  private finish(track: Track, req: TrackedRequest, res: ServerResponse): void {
    const caller = track.caller ?? req.user;
    const failure = track.failure;
    const aborted = !res.writableFinished;
    const status = res.headersSent ? res.statusCode : 499;
    this.metrics.request(track.route, req.method, status);
    if (failure && AUTH_CODES.has(failure.code)) this.metrics.authFailure(failure.reason);
    const url = track.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    this.accessLog.write({
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
    });
    if (!caller) return;
    const denied = track.access?.decision === 'denied';
    // State-changing calls, and with an access file every denial.
    const action = (track.action === undefined ? auditActionOf(req.method, url) : track.action) ?? (denied ? deniedAction(track.access as AccessDecision) : undefined);
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
    }, track.access);
  }
}

function deniedAction(access: AccessDecision): AuditAction {
  return { action: access.action, nameFromPath: undefined, bodyFields: undefined };
}
