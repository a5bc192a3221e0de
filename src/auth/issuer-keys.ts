import { Logger } from '@nestjs/common';
import { createPublicKey, KeyObject } from 'node:crypto';
import { JwksClient } from 'jwks-rsa';
import { fetchCapped, FetchLimits } from '../common/capped-fetch';
import { IssuerSettings } from '../config/gateway-config';

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
  /** The issuer's name (`env`, or its JwtIssuer's name). */
  readonly name: string;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUri: string | undefined;
  readonly keys: readonly SigningKey[];
  readonly lastRefreshedAt: Date | undefined;
  readonly lastError: string | undefined;
  readonly lastErrorAt: Date | undefined;
  readonly fetches: number;
  readonly failures: number;
}

/** Result of looking a kid up: the key, or why there is none. */
export type KeyLookup = { key: SigningKey } | { missing: 'unknown_kid' | 'no_kid' | 'keys_unavailable'; detail: string };

export interface KeyTiming {
  readonly refreshMs: number;
  readonly cooldownMs: number;
}

/** Every request to an identity provider: 5 s, 512 KiB. */
export const IDP_FETCH_LIMITS: FetchLimits = Object.freeze({ timeoutMs: 5_000, maxBytes: 512 * 1024 });

const RETRY_MIN_MS = 1_000;
const DISCOVERY_PATH = '/.well-known/openid-configuration';

/**
 * One issuer's signing keys, from its JWKS through jwks-rsa. They are fetched at start (discovery,
 * then JWKS) and refreshed in the background; a token naming an unknown kid may trigger one more
 * fetch, but at most one per cooldown window, shared by every request waiting on it. When a fetch
 * fails, the keys already held stay in use; a key gone from a successful fetch is dropped at once.
 */
export class IssuerKeys {
  private readonly logger: Logger;
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
    readonly settings: IssuerSettings,
    private readonly timing: KeyTiming,
    private readonly fetchLimits: FetchLimits = IDP_FETCH_LIMITS,
  ) {
    this.logger = new Logger(`SigningKeys ${settings.name}`);
    this.jwksUri = settings.jwksUrl;
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
      name: this.settings.name,
      issuer: this.settings.iss,
      audiences: this.settings.audiences,
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
    if (kid === undefined) return this.allKeys.length === 1 ? this.allKeys[0] : undefined;
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
        ? { missing: 'keys_unavailable', detail: `no signing keys have been loaded from ${this.settings.iss} yet` }
        : { missing: 'no_kid', detail: `the token names no kid and the issuer publishes ${this.allKeys.length} keys` };
    }
    const now = performance.now();
    if (this.inflight || now - this.lastOnDemandFetch >= this.timing.cooldownMs) {
      if (!this.inflight) this.lastOnDemandFetch = now;
      await this.refresh().catch(() => undefined);
      const fetched = this.peek(kid);
      if (fetched) return { key: fetched };
    }
    if (this.allKeys.length === 0) {
      return { missing: 'keys_unavailable', detail: `no signing keys have been loaded from ${this.settings.iss} yet` };
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

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async loadUntilReady(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.stopped) {
      try {
        await this.refresh();
        this.scheduleRefresh(this.timing.refreshMs);
        return;
      } catch (err) {
        this.logger.warn(`signing keys not loaded yet, retrying in ${delay}ms: ${(err as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, Math.max(this.timing.cooldownMs, RETRY_MIN_MS), 30_000);
      }
    }
  }

  private scheduleRefresh(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.refresh()
        .then(() => this.scheduleRefresh(this.timing.refreshMs))
        .catch(() => this.scheduleRefresh(Math.min(this.timing.refreshMs, Math.max(this.timing.cooldownMs, RETRY_MIN_MS))));
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
      if (keys.length === 0) throw new Error(`${this.jwksUri} holds no usable signing keys`);
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
        const body = await this.fetchJson(uri);
        if (!isObject(body) || !Array.isArray(body.keys)) throw new Error(`${uri} is not a JWKS (no "keys" array)`);
        return { keys: body.keys };
      },
    });
    return this.client;
  }

  private async discoverJwksUri(): Promise<string> {
    const { iss, fetchBase } = this.settings;
    const url = (fetchBase ?? iss).replace(/\/+$/, '') + DISCOVERY_PATH;
    const document = await this.fetchJson(url);
    if (!isObject(document)) throw new Error(`${url} is not an OpenID Provider configuration`);
    if (document.issuer !== iss) {
      throw new Error(`${url} names issuer ${JSON.stringify(document.issuer)}, not ${JSON.stringify(iss)}; set issuer to exactly the value tokens carry`);
    }
    const jwksUri = document.jwks_uri;
    if (typeof jwksUri !== 'string' || !/^https?:\/\//.test(jwksUri)) throw new Error(`${url} has no usable jwks_uri`);
    return fetchBase === undefined ? jwksUri : internalUrl(jwksUri, iss, fetchBase);
  }

  private async fetchJson(url: string): Promise<unknown> {
    const response = await fetchCapped(url, { headers: { accept: 'application/json' }, redirect: 'follow' }, this.fetchLimits);
    if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
    try {
      return JSON.parse(response.body);
    } catch {
      throw new Error(`${url} did not answer with JSON`);
    }
  }
}

/** The discovered jwks_uri fetched through issInternal when it sits on the issuer's public origin. */
function internalUrl(jwksUri: string, iss: string, fetchBase: string): string {
  const publicOrigin = new URL(iss).origin;
  const uri = new URL(jwksUri);
  if (uri.origin !== publicOrigin) return jwksUri;
  const internal = new URL(fetchBase);
  uri.protocol = internal.protocol;
  uri.host = internal.host;
  return uri.toString();
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
