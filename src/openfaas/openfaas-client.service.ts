import { Inject, Injectable } from '@nestjs/common';
import { CappedResponse, fetchCapped, FetchFailure } from '../common/capped-fetch';
import { GatewayError } from '../common/gateway-error';
import { GATEWAY_CONFIG } from '../config/config.module';
import { GatewayConfig } from '../config/gateway-config';
import { FunctionStatus, SystemInfo, UpstreamHealth } from './openfaas.types';
import { UpstreamCredentialsService } from './upstream-credentials.service';

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const HEALTH_TIMEOUT_MS = 3_000;

/** A small typed client of the OpenFaaS gateway, calling it with the admin credentials. */
@Injectable()
export class OpenFaasClient {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly credentials: UpstreamCredentialsService,
  ) {}

  get url(): string {
    return this.config.gatewayUrl.toString().replace(/\/$/, '');
  }

  /** Probes GET /healthz; never throws. */
  async health(): Promise<UpstreamHealth> {
    const started = performance.now();
    try {
      const response = await fetchCapped(`${this.url}/healthz`, {}, { timeoutMs: HEALTH_TIMEOUT_MS, maxBytes: MAX_RESPONSE_BYTES });
      const latencyMs = Math.round((performance.now() - started) * 10) / 10;
      return response.ok
        ? { healthy: true, latencyMs, error: undefined, checkedAt: new Date() }
        : { healthy: false, latencyMs, error: `the OpenFaaS gateway's /healthz answered HTTP ${response.status}`, checkedAt: new Date() };
    } catch (err) {
      return { healthy: false, latencyMs: undefined, error: upstreamFailure(err).description, checkedAt: new Date() };
    }
  }

  info(): Promise<SystemInfo> {
    return this.get<SystemInfo>('/system/info');
  }

  functions(namespace?: string): Promise<FunctionStatus[]> {
    const query = namespace ? `?namespace=${encodeURIComponent(namespace)}` : '';
    return this.get<FunctionStatus[] | null>(`/system/functions${query}`).then((list) => list ?? []);
  }

  namespaces(): Promise<string[]> {
    return this.get<string[] | null>('/system/namespaces').then((list) => list ?? []);
  }

  private async get<T>(path: string): Promise<T> {
    let response: CappedResponse;
    try {
      response = await fetchCapped(
        `${this.url}${path}`,
        { headers: { authorization: this.credentials.authorization, accept: 'application/json' }, redirect: 'manual' },
        { timeoutMs: this.config.upstreamTimeoutMs, maxBytes: MAX_RESPONSE_BYTES },
      );
    } catch (err) {
      throw upstreamFailure(err);
    }
    if (!response.ok) {
      const why =
        response.status === 401
          ? "refused this gateway's admin credentials; check the basic-auth secret"
          : `answered HTTP ${response.status} to GET ${path.split('?')[0]}`;
      throw new GatewayError('upstream_error', `the OpenFaaS gateway ${why}`);
    }
    try {
      return JSON.parse(response.body) as T;
    } catch {
      throw new GatewayError('upstream_error', `the OpenFaaS gateway answered GET ${path.split('?')[0]} with something other than JSON`);
    }
  }
}

/** A failed exchange with OpenFaaS, as the gateway reports it: the cause, never a URL with credentials. */
function upstreamFailure(err: unknown): GatewayError {
  if (!(err instanceof FetchFailure)) return new GatewayError('upstream_unavailable', 'the OpenFaaS gateway could not be reached');
  const code = err.kind === 'timeout' ? 'upstream_timeout' : err.kind === 'too_large' ? 'upstream_error' : 'upstream_unavailable';
  return new GatewayError(code, `the OpenFaaS gateway ${err.reason}`);
}
