import { hash, KeyObject } from 'node:crypto';
import { VerifiedToken } from './verified-token';

/** A verified token as the cache holds it. */
export interface CacheEntry {
  readonly token: VerifiedToken;
  readonly key: KeyObject;
  readonly validUntilMs: number;
}

export type KeyHeld = (token: VerifiedToken, key: KeyObject) => boolean;

/**
 * Remembers tokens that passed every check, keyed by a SHA-256 of the token (never the token),
 * so repeated calls skip signature verification. Bounded in entries, the oldest going first: a
 * hit changes nothing, so the hot path never reshapes the long-lived map (tokens live minutes,
 * and a token pushed out is simply verified again). An entry lapses at the token's exp (plus the
 * clock skew) and as soon as the key that verified it is no longer held.
 */
export class TokenCache {
  private readonly entries = new Map<string, CacheEntry>();
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries: number) {}

  static keyOf(token: string): string {
    return hash('sha256', token, 'base64');
  }

  get size(): number {
    return this.entries.size;
  }

  get(hash: string, nowMs: number, isHeld: KeyHeld): VerifiedToken | undefined {
    return this.lookup(hash, nowMs, isHeld)?.token;
  }

  /** The entry for a token hash while it is still good (counted as a hit), else undefined (a miss). */
  lookup(hash: string, nowMs: number, isHeld: KeyHeld): CacheEntry | undefined {
    const entry = this.entries.get(hash);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (!TokenCache.stillGood(entry, nowMs, isHeld)) {
      this.entries.delete(hash);
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry;
  }

  /** Whether an entry would still be handed out: its token not expired, the key that verified it still held. */
  static stillGood(entry: CacheEntry, nowMs: number, isHeld: KeyHeld): boolean {
    return entry.validUntilMs > nowMs && isHeld(entry.token, entry.key);
  }

  /** Remembers a verified token; returns its entry, or undefined when the cache is turned off (size 0). */
  set(hash: string, token: VerifiedToken, key: KeyObject, validUntilMs: number): CacheEntry | undefined {
    if (this.maxEntries <= 0) return undefined;
    this.entries.delete(hash);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    const entry = { token, key, validUntilMs };
    this.entries.set(hash, entry);
    return entry;
  }

  clear(): void {
    this.entries.clear();
  }
}
