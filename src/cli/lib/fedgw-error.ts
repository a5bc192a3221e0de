/** What went wrong, so that callers can tell a refused token from an unreachable gateway. */
export type FedgwErrorKind = 'secret' | 'discovery' | 'token' | 'gateway' | 'graphql' | 'timeout';

/** A failure of one exchange with an identity provider or a gateway, its cause in `message`. */
export class FedgwError extends Error {
  constructor(
    readonly kind: FedgwErrorKind,
    message: string,
    /** The HTTP status of the answer that caused it, when there was one. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FedgwError';
  }
}

/**
 * Describes why fetch() failed: undici wraps the socket error (ECONNREFUSED, ENOTFOUND, a TLS
 * verification code) in `cause` behind a bare "fetch failed".
 */
export function describeFetchFailure(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  const inner = cause instanceof Error ? cause : err instanceof Error ? err : undefined;
  if (!inner) return String(err);
  const nested = (inner as { errors?: unknown }).errors;
  // Happy-eyeballs connects (several addresses) fail with an AggregateError of each attempt.
  if (Array.isArray(nested) && nested.length > 0) return nested.map((e: unknown) => describeFetchFailure({ cause: e })).join('; ');
  const code = (inner as { code?: unknown }).code;
  // The fetch standard blocks some ports (e.g. 1, 6000, 10080); undici says only "bad port".
  if (inner.message === 'bad port') return 'bad port (the fetch standard blocks this port)';
  const message = inner.message || inner.name;
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

/** Whether the error is the abort of `signal` by its timeout. */
export function isTimeout(err: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted) return true;
  return err instanceof Error && err.name === 'TimeoutError';
}
