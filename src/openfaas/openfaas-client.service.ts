import { Inject, Injectable } from '@nestjs/common';
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
      const response = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
      await response.body?.cancel().catch(() => undefined);
      const latencyMs = Math.round((performance.now() - started) * 10) / 10;
      return response.ok
        ? { healthy: true, latencyMs, error: undefined, checkedAt: new Date() }
        : { healthy: false, latencyMs, error: `the OpenFaaS gateway's /healthz answered HTTP ${response.status}`, checkedAt: new Date() };
    } catch (err) {
      return { healthy: false, latencyMs: undefined, error: describe(err, HEALTH_TIMEOUT_MS).description, checkedAt: new Date() };
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
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        headers: { authorization: this.credentials.authorization, accept: 'application/json' },
        signal: AbortSignal.timeout(this.config.upstreamTimeoutMs),
        redirect: 'manual',
      });
    } catch (err) {
      throw describe(err, this.config.upstreamTimeoutMs);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      const why =
        response.status === 401
          ? "refused this gateway's admin credentials; check the basic-auth secret"
          : `answered HTTP ${response.status} to GET ${path.split('?')[0]}`;
      throw new GatewayError('upstream_error', `the OpenFaaS gateway ${why}`);
    }
    const text = await readCapped(response);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new GatewayError('upstream_error', `the OpenFaaS gateway answered GET ${path.split('?')[0]} with something other than JSON`);
    }
  }
}

async function readCapped(response: Response): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_RESPONSE_BYTES) {
        throw new GatewayError('upstream_error', `the OpenFaaS gateway sent more than ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw describe(err, 0);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(err: unknown, timeoutMs: number): GatewayError {
  const error = err as Error & { cause?: { code?: string } };
  if (error?.name === 'TimeoutError') {
    return new GatewayError('upstream_timeout', `the OpenFaaS gateway did not answer within ${timeoutMs}ms`);
  }
  const code = error?.cause?.code;
  return new GatewayError('upstream_unavailable', `the OpenFaaS gateway could not be reached${code ? ` (${code})` : ''}`);
}
