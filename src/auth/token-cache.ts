import { hash, KeyObject } from 'node:crypto';
import { VerifiedToken } from './verified-token';

interface Entry {
  readonly token: VerifiedToken;
  readonly key: KeyObject;
  readonly validUntilMs: number;
}

/**
 * Remembers tokens that passed every check, keyed by a SHA-256 of the token (never the token),
 * so repeated calls skip signature verification. Bounded in entries (least recently used go
 * first); an entry lapses at the token's exp (plus the clock skew) and as soon as the key that
 * verified it is no longer held.
 */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries: number) {}

  static keyOf(token: string): string {
    return hash('sha256', token, 'base64');
  }

  get size(): number {
    return this.entries.size;
  }

  get(hash: string, nowMs: number, isHeld: (token: VerifiedToken, key: KeyObject) => boolean): VerifiedToken | undefined {
    const entry = this.entries.get(hash);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (entry.validUntilMs <= nowMs || !isHeld(entry.token, entry.key)) {
      this.entries.delete(hash);
      this.misses++;
      return undefined;
    }
    this.entries.delete(hash);
    this.entries.set(hash, entry);
    this.hits++;
    return entry.token;
  }

  set(hash: string, token: VerifiedToken, key: KeyObject, validUntilMs: number): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(hash);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(hash, { token, key, validUntilMs });
  }

  clear(): void {
    this.entries.clear();
  }
}
