import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { GATEWAY_CONFIG } from '../config/config.module';
import { GatewayConfig, readSecretFile } from '../config/gateway-config';
import { AuditAction } from './audit-action';
import { APP_LOGGER } from './observability.tokens';
import { MetricsService } from './metrics.service';

/** One audit record: who did what to which target, when, and how it ended. */
export interface AuditEvent {
  event: 'audit';
  time: string;
  requestId: string | undefined;
  action: string;
  target: string | undefined;
  namespace: string | undefined;
  method: string;
  path: string;
  status: number;
  outcome: 'success' | 'failure' | 'aborted';
  issuer: string | undefined;
  subject: string | undefined;
  client: string | undefined;
  /** With an access file: the permission decision, the resource it was taken on, and the caller's Roles. */
  decision?: 'allowed' | 'denied';
  resource?: string;
  roles?: readonly string[];
}

/** A permission decision, as the proxy took it (access file in force). */
export interface AccessDecision {
  readonly decision: 'allowed' | 'denied';
  readonly action: string;
  readonly resource: string;
  readonly roles: readonly string[];
  readonly namespace?: string;
  readonly name?: string;
}

/** Body bytes looked at for the target's name; larger bodies are audited without it. */
const BODY_PEEK_BYTES = 64 * 1024;
const MAX_QUEUE = 1_000;
/** Longer names than any OpenFaaS object can have (DNS names, at most 253 characters) are cut. */
const MAX_NAME = 253;
const WEBHOOK_TIMEOUT_MS = 5_000;
export const SIGNATURE_HEADER = 'x-gateway-signature';

/**
 * Writes an `audit` log event for every state-changing call and, when audit_webhook_url is set,
 * POSTs it there signed with HMAC-SHA256 (`X-Gateway-Signature: sha256=<hex>`), from a bounded
 * queue, never delaying the proxied call.
 */
@Injectable()
export class AuditService implements OnModuleDestroy {
  private readonly queue: string[] = [];
  private sending = false;
  private readonly secretFile: string | undefined;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly metrics: MetricsService,
  ) {
    this.secretFile = config.auditWebhookSecretFile;
  }

  /**
   * Copies the start of a request body as it streams past (the proxy pipes it; nothing is held
   * back), to name the target of deploy, delete and secret calls.
   */
  peekBody(req: IncomingMessage, read?: Buffer): () => Record<string, unknown> | undefined {
    if (read !== undefined) return () => (read.length > BODY_PEEK_BYTES ? undefined : jsonObject(read));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      if (size >= BODY_PEEK_BYTES) return;
      chunks.push(chunk);
      size += chunk.length;
    };
    req.on('data', onData);
    return () => {
      req.off('data', onData);
      if (size === 0 || size > BODY_PEEK_BYTES) return undefined;
      return jsonObject(Buffer.concat(chunks));
    };
  }

  record(
    action: AuditAction,
    body: Record<string, unknown> | undefined,
    details: Omit<AuditEvent, 'event' | 'time' | 'action' | 'target' | 'namespace' | 'decision' | 'resource' | 'roles'> & { query: string },
    access?: AccessDecision,
  ): void {
    const fromBody = action.bodyFields?.map((f) => body?.[f]).find((v): v is string => typeof v === 'string');
    let target = action.nameFromPath ?? fromBody;
    let namespace = typeof body?.namespace === 'string' ? body.namespace : new URLSearchParams(details.query).get('namespace') ?? undefined;
    if (action.action === 'Function:Invoke' && target?.includes('.')) {
      const dot = target.lastIndexOf('.');
      namespace = target.slice(dot + 1);
      target = target.slice(0, dot);
    }
    // The permission check knows exactly what OpenFaaS acts on.
    if (access?.namespace !== undefined) namespace = access.namespace;
    if (access?.name !== undefined && access.name !== '*') target = access.name;
    target = bounded(target);
    namespace = bounded(namespace);
    const { query: _query, ...rest } = details;
    const event: AuditEvent = { event: 'audit', time: new Date().toISOString(), action: access?.action ?? action.action, target, namespace, ...rest };
    if (access) Object.assign(event, { decision: access.decision, resource: access.resource, roles: access.roles });
    // The log line carries pino's own time; the webhook body carries the event's.
    const { time: _time, ...logged } = event;
    this.logger.info(logged, `audit ${event.action} ${target ?? ''} ${event.decision === 'denied' ? 'denied' : event.outcome}`.replace(/ +/g, ' '));
    if (this.config.auditWebhookUrl) this.enqueue(JSON.stringify(event));
  }

  onModuleDestroy(): void {
    this.queue.length = 0;
  }

  private enqueue(payload: string): void {
    if (this.queue.length >= MAX_QUEUE) {
      this.queue.shift();
      this.metrics.auditDrop();
    }
    this.queue.push(payload);
    if (!this.sending) void this.drain();
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      for (let payload = this.queue.shift(); payload !== undefined; payload = this.queue.shift()) {
        await this.deliver(payload);
      }
    } finally {
      this.sending = false;
    }
  }

  private async deliver(payload: string): Promise<void> {
    try {
      // Read per delivery so a rotated secret takes effect without a restart.
      const key = readSecretFile(this.secretFile as string);
      const signature = `sha256=${createHmac('sha256', key).update(payload).digest('hex')}`;
      const response = await fetch(this.config.auditWebhookUrl as URL, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
        body: payload,
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        // A redirect is not followed: it would re-send the signed event elsewhere (307/308) or
        // turn it into a GET without it (302/303) that then looks delivered.
        redirect: 'manual',
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 300 && response.status < 400) throw new Error(`answered HTTP ${response.status} (redirects are not followed)`);
      if (!response.ok) throw new Error(`answered HTTP ${response.status}`);
    } catch (err) {
      this.metrics.auditDrop();
      this.logger.warn({ context: 'Audit' }, `audit webhook delivery failed: ${(err as Error).message}`);
    }
  }
}

function jsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function bounded(name: string | undefined): string | undefined {
  return name !== undefined && name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}...` : name;
}
