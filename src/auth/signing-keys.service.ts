import { Inject, Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import { FetchLimits } from '../common/capped-fetch';
import { GATEWAY_CONFIG } from '../config/config.module';
import { GatewayConfig, IssuerSettings } from '../config/gateway-config';
import { IDP_FETCH_LIMITS, IssuerKeys, KeyStoreStatus } from './issuer-keys';

/**
 * Injection token for other limits than IDP_FETCH_LIMITS (tests of slow or huge identity-provider
 * responses); nothing provides it in the running gateway, so the defaults apply.
 */
export const IDP_FETCH_LIMITS_TOKEN = Symbol('IDP_FETCH_LIMITS');

/**
 * The signing keys of every accepted issuer, each an IssuerKeys of its own: a token's `iss` picks
 * the one key set that may verify it, so a key of one issuer never verifies another's token.
 */
@Injectable()
export class SigningKeysService implements OnModuleDestroy {
  private byIss = new Map<string, IssuerKeys>();
  private readonly listeners = new Set<(status: KeyStoreStatus) => void>();
  private started = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Optional() @Inject(IDP_FETCH_LIMITS_TOKEN) private readonly fetchLimits: FetchLimits = IDP_FETCH_LIMITS,
  ) {
    this.use(config.issuers);
  }

  /** The key set for a token's `iss` (exact match), or undefined when that issuer is not accepted. */
  forIssuer(iss: unknown): IssuerKeys | undefined {
    return typeof iss === 'string' ? this.byIss.get(iss) : undefined;
  }

  /** Every issuer, in configuration order. */
  all(): readonly IssuerKeys[] {
    return [...this.byIss.values()];
  }

  /** The first issuer (the environment's when set): what gatewayStatus.issuer shows. */
  get primary(): IssuerKeys {
    return this.byIss.values().next().value as IssuerKeys;
  }

  /** Whether keys are held for every issuer. */
  get ready(): boolean {
    return this.all().every((keys) => keys.ready);
  }

  /** Begins loading every issuer's keys; resolves once all hold keys. */
  async start(): Promise<void> {
    this.started = true;
    await Promise.all(this.all().map((keys) => keys.start()));
  }

  /** Called after every fetch attempt of any issuer (metrics). */
  onFetch(listener: (status: KeyStoreStatus) => void): void {
    this.listeners.add(listener);
    for (const keys of this.byIss.values()) keys.onFetch(listener);
  }

  /**
   * Switches to another set of issuers (the access file changed): an issuer whose settings did not
   * change keeps its keys; a new one starts loading; one no longer listed stops.
   */
  use(issuers: readonly IssuerSettings[]): void {
    const next = new Map<string, IssuerKeys>();
    for (const settings of issuers) {
      const held = this.byIss.get(settings.iss);
      if (held && sameSettings(held.settings, settings)) {
        next.set(settings.iss, held);
        continue;
      }
      const keys = new IssuerKeys(settings, { refreshMs: this.config.jwksRefreshMs, cooldownMs: this.config.jwksCooldownMs }, this.fetchLimits);
      for (const listener of this.listeners) keys.onFetch(listener);
      if (this.started) void keys.start();
      next.set(settings.iss, keys);
    }
    for (const [iss, keys] of this.byIss) if (next.get(iss) !== keys) keys.stop();
    this.byIss = next;
  }

  onModuleDestroy(): void {
    for (const keys of this.byIss.values()) keys.stop();
  }
}

function sameSettings(a: IssuerSettings, b: IssuerSettings): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
