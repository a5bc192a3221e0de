import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { AccessDocument, AccessFileError, parseAccessFile, readProblem } from './access-file';
import { AccessPolicy } from './access-policy';

/** How often the access file is looked at; the kubelet itself syncs ConfigMap mounts about once a minute. */
export const DEFAULT_ACCESS_FILE_POLL_MS = 5_000;

export interface AccessFileWatcherOptions {
  /** A new version parsed and compiled; it replaces the last good one. */
  readonly onChange: (document: AccessDocument, policy: AccessPolicy) => void;
  /** A new version (or a vanished file) refused; the last good one stays. */
  readonly onRejected: (error: AccessFileError) => void;
  readonly intervalMs?: number;
  /** The content already read and checked at start (by the configuration): the version in force, whatever the file holds now. */
  readonly initialContent?: string;
}

/**
 * Loads the access file once (throwing AccessFileError, a start-up configuration error) and then
 * re-reads it by polling: Kubernetes updates a ConfigMap mount by swapping a `..data` symlink,
 * which file-change notifications on the file itself miss. Only a change of content counts.
 */
export class AccessFileWatcher {
  private current: { readonly document: AccessDocument; readonly policy: AccessPolicy };
  /** The content last looked at, good or not, so one broken version is reported once. */
  private lastSeen: string;
  private goodHash: string;
  private readonly timer: NodeJS.Timeout;
  /** Looks run one after another; each check() call gets a look of its own that starts after the last. */
  private checks: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly options: AccessFileWatcherOptions,
  ) {
    let content: string;
    try {
      content = options.initialContent ?? readFileSync(path, 'utf8');
    } catch (err) {
      throw new AccessFileError(path, [readProblem(err)]);
    }
    const document = parseAccessFile(content, path);
    this.current = { document, policy: AccessPolicy.compile(document) };
    this.lastSeen = this.goodHash = hash(content);
    this.timer = setInterval(() => void this.check(), options.intervalMs ?? DEFAULT_ACCESS_FILE_POLL_MS);
    this.timer.unref();
  }

  get document(): AccessDocument {
    return this.current.document;
  }

  get policy(): AccessPolicy {
    return this.current.policy;
  }

  /** Looks at the file (the timer calls it), after any look already running; resolves when the callbacks have run. */
  check(): Promise<void> {
    const next = this.checks.then(() => this.look());
    this.checks = next.catch(() => undefined);
    return next;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async look(): Promise<void> {
    let content: string;
    try {
      if (!(await stat(this.path)).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      content = await readFile(this.path, 'utf8');
    } catch (err) {
      const problem = readProblem(err);
      if (this.lastSeen === problem) return;
      this.lastSeen = problem;
      this.options.onRejected(new AccessFileError(this.path, [problem]));
      return;
    }
    const seen = hash(content);
    if (seen === this.lastSeen) return;
    this.lastSeen = seen;
    // Back to the version in force (after a vanished or broken one): nothing changes.
    if (seen === this.goodHash) return;
    let next: { document: AccessDocument; policy: AccessPolicy };
    try {
      const document = parseAccessFile(content, this.path);
      next = { document, policy: AccessPolicy.compile(document) };
    } catch (err) {
      this.options.onRejected(err instanceof AccessFileError ? err : new AccessFileError(this.path, [`cannot be used: ${(err as Error).message}`]));
      return;
    }
    this.current = next;
    this.goodHash = seen;
    this.options.onChange(next.document, next.policy);
  }
}

function hash(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}
