import { Inject, Injectable } from '@nestjs/common';
import { forbidden } from '../access/access-grants';
import { AccessService } from '../access/access.service';
import { IssuerKeys } from '../auth/issuer-keys';
import type { VerifiedToken } from '../auth/verified-token';
import { SigningKeysService } from '../auth/signing-keys.service';
import { GATEWAY_CONFIG } from '../config/config.module';
import { GatewayConfig } from '../config/gateway-config';
import { GATEWAY_VERSION, STARTED_AT } from '../common/version';
import { GatewayError } from '../common/gateway-error';
import { HealthService } from '../health/health.service';
import { OpenFaasClient } from '../openfaas/openfaas-client.service';
import { GatewayStatus } from './models/gateway-status.model';
import { IssuerStatus } from './models/issuer-status.model';
import { UpstreamStatus } from './models/upstream-status.model';

@Injectable()
export class GatewayStatusService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly keys: SigningKeysService,
    private readonly health: HealthService,
    private readonly openfaas: OpenFaasClient,
    private readonly access: AccessService,
  ) {}

  async status(caller: VerifiedToken): Promise<GatewayStatus> {
    const grants = this.access.grantsOf(caller);
    if (grants !== undefined && !grants.allowsEverywhere('System:Info')) throw forbidden(grants, 'System:Info', '*');
    return {
      version: GATEWAY_VERSION,
      startedAt: STARTED_AT,
      uptimeSeconds: Math.round((Date.now() - STARTED_AT.getTime()) / 100) / 10,
      allowInvoke: this.config.allowInvoke,
      upstream: await this.upstream(),
      issuer: issuerStatus(this.keys.primary),
      issuers: this.keys.all().map(issuerStatus),
    };
  }

  private async upstream(): Promise<UpstreamStatus> {
    const [health, info] = await Promise.all([
      this.health.upstream(),
      this.openfaas.info().catch((err: unknown) => (err instanceof GatewayError ? err : new GatewayError('upstream_error', 'unexpected failure'))),
    ]);
    const known = info instanceof GatewayError ? undefined : info;
    return {
      url: this.openfaas.url,
      healthy: health.healthy,
      latencyMs: health.latencyMs ?? null,
      provider: known?.provider?.provider ?? null,
      orchestration: known?.provider?.orchestration ?? null,
      version: known?.version?.release ?? null,
      error: health.error ?? (info instanceof GatewayError ? info.description : null),
    };
  }
}

function issuerStatus(keys: IssuerKeys): IssuerStatus {
  const { settings } = keys;
  const status = keys.status();
  return {
    name: settings.name,
    issuer: settings.iss,
    audiences: [...settings.audiences],
    audienceClaims: [...settings.audienceClaims],
    algorithms: [...settings.algorithms],
    jwksUri: status.jwksUri ?? null,
    keys: status.keys.map((k) => ({ kid: k.kid ?? null, alg: k.alg ?? null, kty: k.kty, curve: k.curve ?? null })),
    lastRefreshedAt: status.lastRefreshedAt ?? null,
    lastError: status.lastError ?? null,
    lastErrorAt: status.lastErrorAt ?? null,
    fetches: status.fetches,
    failures: status.failures,
  };
}
