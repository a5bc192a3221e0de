import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import { createPublicKey, KeyObject } from 'node:crypto';
import { JwksClient } from 'jwks-rsa';
import { GATEWAY_CONFIG } from '../config/config.module';
import { GatewayConfig } from '../config/gateway-config';
import { fetchJson, FetchLimits, IDP_FETCH_LIMITS, IDP_FETCH_LIMITS_TOKEN } from './bounded-fetch';

/** A public key from the issuer's JWKS, ready for signature checks. */
export interface SigningKey {
  readonly kid: string | undefined;
  /** The `alg` the JWK pins, if any. */
  readonly alg: string | undefined;
  readonly kty: 'RSA' | 'EC' | 'OKP' | 'unknown';
  readonly curve: string | undefined;
  readonly modulusBits: number | undefined;
  readonly key: KeyObject;
}

export interface KeyStoreStatus {
  readonly issuer: string;
  readonly jwksUri: string | undefined;
  readonly keys: readonly SigningKey[];
  readonly lastRefreshedAt: Date | undefined;
  readonly lastError: string | undefined;
  readonly lastErrorAt: Date | undefined;
  readonly fetches: number;
  readonly failures: number;
}

/** Result of looking a kid up: the key, or why there is none. */
export type KeyLookup =
  | { key: SigningKey }
  | { missing: 'unknown_kid' | 'no_kid' | 'keys_unavailable'; detail: string };

const RETRY_MIN_MS = 1_000;
const DISCOVERY_PATH = '/.well-known/openid-configuration';

/**
 * Holds the issuer's signing keys. They are fetched at start (discovery, then JWKS) and
 * refreshed in the background; a token naming an unknown kid may trigger one more fetch, but at
 * most one per cooldown window, shared by every request waiting on it. When a fetch fails, the
 * keys already held stay in use; a key gone from a successful fetch is dropped at once.
 */
@Injectable()
export class SigningKeysService implements OnModuleDestroy {
  private readonly logger = new Logger(SigningKeysService.name);
  private keysByKid = new Map<string, SigningKey>();
  private allKeys: readonly SigningKey[] = [];
  private jwksUri: string | undefined;
  private client: JwksClient | undefined;
  private inflight: Promise<void> | undefined;
  private lastOnDemandFetch = -Infinity;
  private lastRefreshedAt: Date | undefined;
  private lastError: string | undefined;
  private lastErrorAt: Date | undefined;
  private fetches = 0;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private firstLoad: Promise<void> | undefined;
  private stopped = false;
  private readonly listeners = new Set<(status: KeyStoreStatus) => void>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Optional() @Inject(IDP_FETCH_LIMITS_TOKEN) private readonly fetchLimits: FetchLimits = IDP_FETCH_LIMITS,
  ) {
    this.jwksUri = config.jwksUrl;
  }

  /** Begins loading keys; resolves once keys are held (retrying while the issuer is unreachable). */
  start(): Promise<void> {
    this.firstLoad ??= this.loadUntilReady();
    return this.firstLoad;
  }

  get ready(): boolean {
    return this.allKeys.length > 0;
  }

  status(): KeyStoreStatus {
    return {
      issuer: this.config.issuer,
      jwksUri: this.jwksUri,
      keys: this.allKeys,
      lastRefreshedAt: this.lastRefreshedAt,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      fetches: this.fetches,
      failures: this.failures,
    };
  }

  /** Called after every fetch attempt, successful or not (metrics). */
  onFetch(listener: (status: KeyStoreStatus) => void): void {
    this.listeners.add(listener);
  }

  /** The key for a kid, without any fetch: undefined when not held. */
  peek(kid: string | undefined): SigningKey | undefined {
    if (kid === undefined) {
      return this.allKeys.length === 1 ? this.allKeys[0] : undefined;
    }
    return this.keysByKid.get(kid);
  }

  /**
   * The key for a kid. An unknown kid triggers a JWKS fetch only when none was triggered within
   * the cooldown window; otherwise it is refused at once, so a flood of random kids costs at most
   * one fetch per window and never delays tokens whose keys are held.
   */
  async lookup(kid: string | undefined): Promise<KeyLookup> {
    const held = this.peek(kid);
    if (held) return { key: held };
    if (kid === undefined) {
      return this.allKeys.length === 0
        ? { missing: 'keys_unavailable', detail: 'no signing keys have been loaded from the issuer yet' }
        : { missing: 'no_kid', detail: `the token names no kid and the issuer publishes ${this.allKeys.length} keys` };
    }
    const now = performance.now();
    if (this.inflight || now - this.lastOnDemandFetch >= this.config.jwksCooldownMs) {
      if (!this.inflight) this.lastOnDemandFetch = now;
      await this.refresh().catch(() => undefined);
      const fetched = this.peek(kid);
      if (fetched) return { key: fetched };
    }
    if (this.allKeys.length === 0) {
      return { missing: 'keys_unavailable', detail: 'no signing keys have been loaded from the issuer yet' };
    }
    return { missing: 'unknown_kid', detail: `kid "${truncate(kid)}" is not among the issuer's signing keys` };
  }

  /** Fetches the JWKS now; concurrent callers share one fetch. Rejects when the fetch fails. */
  refresh(): Promise<void> {
    this.inflight ??= this.fetchKeys().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  onModuleDestroy(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async loadUntilReady(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.stopped) {
      try {
        await this.refresh();
        this.scheduleRefresh(this.config.jwksRefreshMs);
        return;
      } catch (err) {
        this.logger.warn(`signing keys not loaded yet, retrying in ${delay}ms: ${(err as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, Math.max(this.config.jwksCooldownMs, RETRY_MIN_MS), 30_000);
      }
    }
  }

  private scheduleRefresh(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.refresh()
        .then(() => this.scheduleRefresh(this.config.jwksRefreshMs))
        .catch(() => this.scheduleRefresh(Math.min(this.config.jwksRefreshMs, Math.max(this.config.jwksCooldownMs, RETRY_MIN_MS))));
    }, ms);
    this.timer.unref();
  }

  private async fetchKeys(): Promise<void> {
    this.fetches++;
    try {
      const client = await this.jwksClient();
      const signingKeys = await client.getSigningKeys();
      const keys: SigningKey[] = [];
      const byKid = new Map<string, SigningKey>();
      for (const entry of signingKeys) {
        const fresh = toSigningKey(entry.kid, (entry as { alg?: string }).alg, entry.getPublicKey());
        if (!fresh) continue;
        // Keep the held object for an unchanged key, so tokens it verified stay cached.
        const held = fresh.kid === undefined ? undefined : this.keysByKid.get(fresh.kid);
        const key = held && held.alg === fresh.alg && held.key.equals(fresh.key) ? held : fresh;
        if (key.kid !== undefined) {
          if (byKid.has(key.kid)) continue;
          byKid.set(key.kid, key);
        }
        keys.push(key);
      }
      if (keys.length === 0) {
        throw new Error(`${this.jwksUri} holds no usable signing keys`);
      }
      const removed = this.allKeys.filter((k) => !keys.includes(k));
      if (removed.length && this.allKeys.length) {
        this.logger.log(`signing keys removed: ${removed.map((k) => k.kid ?? '(no kid)').join(', ')}`);
      }
      this.keysByKid = byKid;
      this.allKeys = Object.freeze(keys);
      this.lastRefreshedAt = new Date();
      this.lastError = undefined;
    } catch (err) {
      this.failures++;
      this.lastError = (err as Error).message;
      this.lastErrorAt = new Date();
      this.logger.warn(`signing key fetch failed (keeping ${this.allKeys.length} held keys): ${this.lastError}`);
      throw err;
    } finally {
      const status = this.status();
      for (const listener of this.listeners) listener(status);
    }
  }

  private async jwksClient(): Promise<JwksClient> {
    if (this.client) return this.client;
    this.jwksUri ??= await this.discoverJwksUri();
    this.client = new JwksClient({
      jwksUri: this.jwksUri,
      cache: false,
      rateLimit: false,
      fetcher: async (uri: string) => {
        const body = await fetchJson(uri, this.fetchLimits);
        if (!isObject(body) || !Array.isArray(body.keys)) {
          throw new Error(`${uri} is not a JWKS (no "keys" array)`);
        }
        return { keys: body.keys };
      },
    });
    return this.client;
  }

  private async discoverJwksUri(): Promise<string> {
    const url = this.config.issuer.replace(/\/+$/, '') + DISCOVERY_PATH;
    const document = await fetchJson(url, this.fetchLimits);
    if (!isObject(document)) {
      throw new Error(`${url} is not an OpenID Provider configuration`);
    }
    if (document.issuer !== this.config.issuer) {
      throw new Error(
        `${url} names issuer ${JSON.stringify(document.issuer)}, not ${JSON.stringify(this.config.issuer)}; set issuer to exactly the value tokens carry`,
      );
    }
    const jwksUri = document.jwks_uri;
    if (typeof jwksUri !== 'string' || !/^https?:\/\//.test(jwksUri)) {
      throw new Error(`${url} has no usable jwks_uri`);
    }
    return jwksUri;
  }
}

function toSigningKey(kid: string | undefined, alg: string | undefined, pem: string): SigningKey | undefined {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return undefined;
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  const kty = type === 'rsa' || type === 'rsa-pss' ? 'RSA' : type === 'ec' ? 'EC' : type === 'ed25519' || type === 'ed448' ? 'OKP' : 'unknown';
  return Object.freeze({
    kid: typeof kid === 'string' && kid ? kid : undefined,
    alg: typeof alg === 'string' && alg ? alg : undefined,
    kty,
    curve: details?.namedCurve,
    modulusBits: details?.modulusLength,
    key,
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
