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
  peekBody(req: IncomingMessage): () => Record<string, unknown> | undefined {
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
      try {
        const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    };
  }

  record(action: AuditAction, body: Record<string, unknown> | undefined, details: Omit<AuditEvent, 'event' | 'time' | 'action' | 'target' | 'namespace'> & { query: string }): void {
    const fromBody = action.bodyFields?.map((f) => body?.[f]).find((v): v is string => typeof v === 'string');
    let target = action.nameFromPath ?? fromBody;
    let namespace = typeof body?.namespace === 'string' ? body.namespace : new URLSearchParams(details.query).get('namespace') ?? undefined;
    if (action.action === 'Function:Invoke' && target?.includes('.')) {
      const dot = target.indexOf('.');
      namespace = target.slice(dot + 1);
      target = target.slice(0, dot);
    }
    target = bounded(target);
    namespace = bounded(namespace);
    const { query: _query, ...rest } = details;
    const event: AuditEvent = { event: 'audit', time: new Date().toISOString(), action: action.action, target, namespace, ...rest };
    // The log line carries pino's own time; the webhook body carries the event's.
    const { time: _time, ...logged } = event;
    this.logger.info(logged, `audit ${event.action} ${target ?? ''} ${event.outcome}`.replace(/ +/g, ' '));
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

function bounded(name: string | undefined): string | undefined {
  return name !== undefined && name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}...` : name;
}
