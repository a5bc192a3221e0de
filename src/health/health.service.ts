import { Injectable } from '@nestjs/common';
import { SigningKeysService } from '../auth/signing-keys.service';
import { GatewayError } from '../common/gateway-error';
import { OpenFaasClient } from '../openfaas/openfaas-client.service';
import { UpstreamHealth } from '../openfaas/openfaas.types';

/** How long one upstream probe answers for: probes from many callers collapse into one. */
const PROBE_TTL_MS = 1_000;

@Injectable()
export class HealthService {
  private last: UpstreamHealth | undefined;
  private inflight: Promise<UpstreamHealth> | undefined;

  constructor(
    private readonly keys: SigningKeysService,
    private readonly openfaas: OpenFaasClient,
  ) {}

  /** The OpenFaaS gateway's health, probed at most once a second however many ask. */
  upstream(): Promise<UpstreamHealth> {
    if (this.last && Date.now() - this.last.checkedAt.getTime() < PROBE_TTL_MS) return Promise.resolve(this.last);
    this.inflight ??= this.openfaas.health().then((health) => {
      this.last = health;
      this.inflight = undefined;
      return health;
    });
    return this.inflight;
  }

  /** Resolves when the gateway can serve: keys held and OpenFaaS answering; else a 503 naming why. */
  async assertReady(): Promise<{ status: 'ok' }> {
    const upstream = await this.upstream();
    const reasons: string[] = [];
    for (const issuer of this.keys.all()) {
      if (issuer.ready) continue;
      const error = issuer.status().lastError;
      reasons.push(`no signing keys are held yet for ${issuer.settings.iss}${error ? ` (${error})` : ''}`);
    }
    if (!upstream.healthy) reasons.push(upstream.error ?? 'the OpenFaaS gateway is not healthy');
    if (reasons.length) throw new GatewayError('unavailable', `Not ready: ${reasons.join('; ')}.`);
    return { status: 'ok' };
  }
}
