/** Limits on one request the gateway makes to another service (the IdP, OpenFaaS). */
export interface FetchLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** Why a fetch failed, in words an operator can act on (refused, DNS, TLS, timeout, size). */
export class FetchFailure extends Error {
  constructor(
    readonly url: string,
    readonly kind: 'timeout' | 'unreachable' | 'too_large',
    /** What happened, without the URL: "could not be reached: connection refused (ECONNREFUSED)". */
    readonly reason: string,
  ) {
    super(`${url} ${reason}`);
    this.name = 'FetchFailure';
  }
}

export interface CappedResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly body: string;
}

/**
 * One HTTP exchange with a hard timeout over the whole of it and a cap on the body read, so a slow
 * or huge answer cannot stall or exhaust the gateway. Network failures become a FetchFailure
 * that names the URL and its cause; an HTTP error status is returned for the caller to judge.
 */
export async function fetchCapped(url: string, init: RequestInit, limits: FetchLimits): Promise<CappedResponse> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    const response = await fetch(url, { ...init, signal });
    if (!response.ok) {
      await response.body?.cancel();
      return { status: response.status, ok: false, body: '' };
    }
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > limits.maxBytes) {
      await response.body?.cancel();
      throw new FetchFailure(url, 'too_large', `sent ${declared} bytes, more than the ${limits.maxBytes} allowed`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of response.body ?? []) {
      size += chunk.byteLength;
      // Leaving the loop by a throw cancels the body.
      if (size > limits.maxBytes) throw new FetchFailure(url, 'too_large', `sent more than the ${limits.maxBytes} bytes allowed`);
      chunks.push(chunk);
    }
    return { status: response.status, ok: true, body: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    if (err instanceof FetchFailure) throw err;
    if (signal.aborted) throw new FetchFailure(url, 'timeout', `did not answer within ${limits.timeoutMs}ms`);
    throw new FetchFailure(url, 'unreachable', `could not be reached: ${networkCause(err)}`);
  }
}

const TLS_CODE = /^(?:CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH)/;

/** The cause of a failed connection, from the error code node and undici attach to fetch's TypeError. */
export function networkCause(err: unknown): string {
  const code = errorCode(err);
  if (code === undefined) return deepestMessage(err);
  if (code === 'ECONNREFUSED') return 'connection refused (ECONNREFUSED)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `DNS lookup failed (${code})`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `connection reset (${code})`;
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return `connection timed out (${code})`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `no route to host (${code})`;
  if (TLS_CODE.test(code)) return `TLS handshake failed (${code})`;
  return code;
}

/** The innermost cause's message ("bad port" behind undici's "fetch failed"). */
function deepestMessage(err: unknown): string {
  let current = err as { message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; depth < 4 && current?.cause instanceof Error; depth++) current = current.cause as typeof current;
  return typeof current?.message === 'string' && current.message ? current.message : String(err);
}

function errorCode(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 4) return undefined;
  const { code, cause, errors } = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && code !== 'ERR_INVALID_STATE') return code;
  // Happy Eyeballs: an AggregateError with one error per address tried.
  if (Array.isArray(errors) && errors.length) return errorCode(errors[0], depth + 1);
  return errorCode(cause, depth + 1);
}
