import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RouteClass } from '../common/route-class';
import { SigningKeysService } from '../auth/signing-keys.service';
import { TokenVerifierService } from '../auth/token-verifier.service';

export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

/** A registry per gateway instance (tests boot several in one process). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Methods counted by name; any other is counted as "other", so callers cannot mint label values. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The gateway's Prometheus metrics. Labels come from small fixed sets (route class, method,
 * status, failure reason, issuer name): never a token, a subject, a path or a secret.
 */
@Injectable()
export class MetricsService {
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly upstreamLatency: Histogram<'route'>;
  private readonly authFailures: Counter<'reason'>;
  private readonly jwksFetches: Counter<'issuer' | 'outcome'>;
  private readonly auditDropped: Counter;
  private readonly accessReloads: Counter<'outcome'>;

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    keys: SigningKeysService,
    verifier: TokenVerifierService,
  ) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'gateway_http_requests_total',
      help: 'Requests answered on the public port, by route class, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.upstreamLatency = new Histogram({
      name: 'gateway_upstream_response_seconds',
      help: 'Time until the OpenFaaS gateway sent response headers, by route class.',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.authFailures = new Counter({
      name: 'gateway_auth_failures_total',
      help: 'Requests refused for their credentials, by reason (expired, wrong_audience, unknown_kid, ...).',
      labelNames: ['reason'],
      registers,
    });
    this.jwksFetches = new Counter({
      name: 'gateway_jwks_fetches_total',
      help: 'Signing key (discovery + JWKS) fetches, by issuer and outcome.',
      labelNames: ['issuer', 'outcome'],
      registers,
    });
    this.auditDropped = new Counter({
      name: 'gateway_audit_webhook_dropped_total',
      help: 'Audit events not delivered to the webhook (queue full or delivery failed); they are still in the log.',
      registers,
    });
    this.accessReloads = new Counter({
      name: 'gateway_access_file_reloads_total',
      help: 'Changes of access_file seen after start, by outcome (applied, or refused and the last good version kept).',
      labelNames: ['outcome'],
      registers,
    });
    new Gauge({
      name: 'gateway_signing_keys',
      help: 'Signing keys currently held, by issuer.',
      labelNames: ['issuer'],
      registers,
      collect() {
        this.reset();
        for (const issuer of keys.all()) this.set({ issuer: issuer.settings.name }, issuer.status().keys.length);
      },
    });
    new Gauge({
      name: 'gateway_signing_keys_last_refresh_timestamp_seconds',
      help: 'When the signing keys were last fetched successfully, by issuer (0 = never).',
      labelNames: ['issuer'],
      registers,
      collect() {
        this.reset();
        for (const issuer of keys.all()) this.set({ issuer: issuer.settings.name }, (issuer.status().lastRefreshedAt?.getTime() ?? 0) / 1000);
      },
    });
    for (const [name, help, pick] of [
      ['gateway_token_cache_hits_total', 'Requests whose token was found in the verified-token cache.', 'hits'],
      ['gateway_token_cache_misses_total', 'Requests whose token needed full verification.', 'misses'],
    ] as const) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(verifier.cacheStats[pick]);
        },
      });
    }
    keys.onFetch((status) => this.jwksFetches.inc({ issuer: status.name, outcome: status.lastError ? 'failure' : 'success' }));
  }

  request(route: RouteClass, method: string | undefined, status: number): void {
    this.requests.inc({ route, method: method !== undefined && METHODS.has(method) ? method : 'other', status: String(status) });
  }

  upstreamResponded(route: RouteClass, seconds: number): void {
    this.upstreamLatency.observe({ route }, seconds);
  }

  authFailure(reason: string): void {
    this.authFailures.inc({ reason });
  }

  accessFileLoaded(applied: boolean): void {
    this.accessReloads.inc({ outcome: applied ? 'applied' : 'refused' });
  }

  auditDrop(): void {
    this.auditDropped.inc();
  }
}
