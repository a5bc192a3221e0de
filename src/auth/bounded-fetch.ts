/** Limits on every request the gateway makes to the identity provider. */
export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
}

export const IDP_FETCH_LIMITS: FetchLimits = Object.freeze({ timeoutMs: 5_000, maxBytes: 512 * 1024 });

/**
 * Injection token for other limits than IDP_FETCH_LIMITS (tests of slow or huge identity-provider
 * responses); nothing provides it in the running gateway, so the defaults apply.
 */
export const IDP_FETCH_LIMITS_TOKEN = Symbol('IDP_FETCH_LIMITS');

/**
 * GETs a JSON document with a hard timeout over the whole exchange and a cap on the body size,
 * so a slow or huge identity-provider response cannot stall or exhaust the gateway.
 */
export async function fetchJson(url: string, limits: FetchLimits = IDP_FETCH_LIMITS): Promise<unknown> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { signal, headers: { accept: 'application/json' }, redirect: 'follow' });
  } catch (err) {
    throw new Error(describeFetchError(url, err, limits));
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`${url} answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limits.maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`${url} sent ${declared} bytes, more than the ${limits.maxBytes} allowed`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > limits.maxBytes) {
        await response.body?.cancel().catch(() => undefined);
        throw new Error(`${url} sent more than the ${limits.maxBytes} bytes allowed`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(url)) throw err;
    throw new Error(describeFetchError(url, err, limits));
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Error(`${url} did not answer with JSON`);
  }
}

function describeFetchError(url: string, err: unknown, limits: FetchLimits): string {
  const error = err as Error & { cause?: { code?: string } };
  if (error?.name === 'TimeoutError' || error?.name === 'AbortError') {
    return `${url} did not answer within ${limits.timeoutMs}ms`;
  }
  const code = error?.cause?.code;
  return `${url} could not be fetched${code ? ` (${code})` : ''}`;
}
