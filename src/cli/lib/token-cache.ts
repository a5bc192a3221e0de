import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** A token with less than this left is never handed out from the cache. */
export const CACHE_MARGIN_MS = 60_000;

/** What identifies the token a client gets: never the secret. */
export interface TokenIdentity {
  /** tokenUrl when given, else the issuer. */
  endpoint: string;
  clientId: string;
  audience?: string;
  scope?: string;
  resource?: string;
}

export interface CachedToken {
  accessToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/**
 * Access tokens on disk, one file per cluster and identity, in a folder only the user can read
 * (0700, files 0600: the modes are set explicitly, whatever the umask or an older folder had).
 */
export class TokenCache {
  constructor(
    readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The file a token for `name` and `identity` lives in; a changed identity is another file. */
  fileFor(name: string, identity: TokenIdentity): string {
    const digest = createHash('sha256')
      .update(JSON.stringify([identity.endpoint, identity.clientId, identity.audience ?? null, identity.scope ?? null, identity.resource ?? null]))
      .digest('hex')
      .slice(0, 32);
    return join(this.dir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}-${digest}.json`);
  }

  /** The cached token when it has more than CACHE_MARGIN_MS left, else undefined. */
  async get(name: string, identity: TokenIdentity): Promise<CachedToken | undefined> {
    let text: string;
    try {
      text = await readFile(this.fileFor(name, identity), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const entry = JSON.parse(text) as Partial<CachedToken>;
      if (typeof entry.accessToken !== 'string' || typeof entry.expiresAt !== 'number') return undefined;
      if (entry.expiresAt - this.now() <= CACHE_MARGIN_MS) return undefined;
      return { accessToken: entry.accessToken, expiresAt: entry.expiresAt };
    } catch {
      return undefined;
    }
  }

  /** Stores a token; one that would not outlive the margin is not worth a file. */
  async put(name: string, identity: TokenIdentity, token: CachedToken): Promise<void> {
    if (token.expiresAt - this.now() <= CACHE_MARGIN_MS) return;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    const file = this.fileFor(name, identity);
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.chmod(0o600);
      await handle.writeFile(JSON.stringify({ accessToken: token.accessToken, expiresAt: token.expiresAt }));
    } finally {
      await handle.close();
    }
    // rename: a concurrent reader sees the old file or the new one, never half of one.
    await rename(temp, file).catch(async (err: unknown) => {
      await rm(temp, { force: true });
      throw err;
    });
  }
}
