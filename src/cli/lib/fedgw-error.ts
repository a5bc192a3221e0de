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

/** Whether the error is the abort of `signal` by its timeout. */
export function isTimeout(err: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted) return true;
  return err instanceof Error && err.name === 'TimeoutError';
}
