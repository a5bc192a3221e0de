import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { SigningKeysService } from '../auth/signing-keys.service';
import { TokenVerifierService } from '../auth/token-verifier.service';
import { HotHistogram, RequestCounter } from './hot-metrics';

export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

/** A registry per gateway instance (tests boot several in one process). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export type RouteLabel = 'system' | 'function' | 'graphql' | 'health' | 'other';

const ROUTES: readonly RouteLabel[] = ['system', 'function', 'graphql', 'health', 'other'];
const ROUTE_INDEX: Readonly<Record<RouteLabel, number>> = { system: 0, function: 1, graphql: 2, health: 3, other: 4 };
/** Methods counted by name; any other is counted as "other" (the last). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'other'] as const;
const OTHER_METHOD = METHODS.length - 1;
const METHOD_INDEX = new Map<string, number>(METHODS.slice(0, OTHER_METHOD).map((method, i) => [method, i]));

/**
 * The gateway's Prometheus metrics. Labels come from small fixed sets (route class, method,
 * status, failure reason): never a token, a subject, a path or a secret.
 */
@Injectable()
export class MetricsService {
  private readonly requests: RequestCounter;
  private readonly upstreamLatency: HotHistogram;
  private readonly authFailures: Counter<'reason'>;
  private readonly jwksFetches: Counter<'outcome'>;
  private readonly auditDropped: Counter;

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    keys: SigningKeysService,
    verifier: TokenVerifierService,
  ) {
    const registers = [registry];
    this.requests = new RequestCounter(registry, 'gateway_http_requests_total', 'Requests answered on the public port, by route class, method and status.', ROUTES, METHODS);
    this.upstreamLatency = new HotHistogram(
      registry,
      'gateway_upstream_response_seconds',
      'Time until the OpenFaaS gateway sent response headers, by route class.',
      'route',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    );
    this.authFailures = new Counter({
      name: 'gateway_auth_failures_total',
      help: 'Requests refused for their credentials, by reason (expired, wrong_audience, unknown_kid, ...).',
      labelNames: ['reason'],
      registers,
    });
    this.jwksFetches = new Counter({
      name: 'gateway_jwks_fetches_total',
      help: 'Signing key (discovery + JWKS) fetches, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.auditDropped = new Counter({
      name: 'gateway_audit_webhook_dropped_total',
      help: 'Audit events not delivered to the webhook (queue full or delivery failed); they are still in the log.',
      registers,
    });
    new Gauge({
      name: 'gateway_signing_keys',
      help: 'Signing keys currently held from the issuer.',
      registers,
      collect() {
        this.set(keys.status().keys.length);
      },
    });
    new Gauge({
      name: 'gateway_signing_keys_last_refresh_timestamp_seconds',
      help: 'When the signing keys were last fetched successfully (0 = never).',
      registers,
      collect() {
        this.set((keys.status().lastRefreshedAt?.getTime() ?? 0) / 1000);
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
    keys.onFetch((status) => this.jwksFetches.inc({ outcome: status.lastError ? 'failure' : 'success' }));
  }

  request(route: RouteLabel, method: string | undefined, status: number): void {
    this.requests.inc(ROUTE_INDEX[route], (method === undefined ? undefined : METHOD_INDEX.get(method)) ?? OTHER_METHOD, status);
  }

  upstreamResponded(route: RouteLabel, seconds: number): void {
    this.upstreamLatency.observe(route, seconds);
  }

  authFailure(reason: string): void {
    this.authFailures.inc({ reason });
  }

  auditDrop(): void {
    this.auditDropped.inc();
  }
}
