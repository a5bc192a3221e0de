import { scrubSecret } from './client-secret';
import { networkCause } from '../../common/capped-fetch';
import { FedgwError, isTimeout } from './fedgw-error';
import { TokenCache, TokenIdentity } from './token-cache';

export interface TokenSourceOptions {
  /** OIDC issuer: the token endpoint is found at `<issuer>/.well-known/openid-configuration`. */
  issuer?: string;
  /** The token endpoint itself; wins over `issuer`. */
  tokenUrl?: string;
  clientId: string;
  /** The secret, or a function reading it when a token is needed (it is never stored). */
  clientSecret: string | ((signal?: AbortSignal) => Promise<string>);
  /** Sent as `audience` (Auth0). */
  audience?: string;
  /** Sent as `scope` (Entra ID `api://…/.default`). */
  scope?: string;
  /** Sent as `resource` (RFC 8707). */
  resource?: string;
  /** Disk cache and the name the token is kept under there (e.g. the cluster's). */
  cache?: { store: TokenCache; name: string };
}

export interface AccessToken {
  accessToken: string;
  /** Epoch milliseconds, when the identity provider said (expires_in) or the JWT carries exp. */
  expiresAt?: number;
  fromCache: boolean;
}

export interface TokenRequestOptions {
  signal?: AbortSignal;
  /** Skip reading the cache (a fresh token is still stored). */
  fresh?: boolean;
}

/**
 * OAuth 2.0 client-credentials tokens (RFC 6749 §4.4) with `client_secret_post`, from a token
 * endpoint given or found by OIDC discovery, reused from the disk cache while they have over a
 * minute left. The secret never appears in an error: the identity provider may echo the request.
 */
export class TokenSource {
  constructor(private readonly options: TokenSourceOptions) {
    if (!options.tokenUrl && !options.issuer) throw new TypeError('TokenSource needs an issuer or a tokenUrl');
  }

  get identity(): TokenIdentity {
    const o = this.options;
    return { endpoint: (o.tokenUrl ?? o.issuer) as string, clientId: o.clientId, audience: o.audience, scope: o.scope, resource: o.resource };
  }

  async token(request: TokenRequestOptions = {}): Promise<AccessToken> {
    const cache = this.options.cache;
    if (cache && !request.fresh) {
      const hit = await cache.store.get(cache.name, this.identity);
      if (hit) return { ...hit, fromCache: true };
    }
    const fetched = await this.requestToken(request.signal);
    if (cache && fetched.expiresAt !== undefined) {
      try {
        await cache.store.put(cache.name, this.identity, { accessToken: fetched.accessToken, expiresAt: fetched.expiresAt });
      } catch (err) {
        process.emitWarning(`token cache not written: ${(err as Error).message}`, 'FedgwWarning');
      }
    }
    return fetched;
  }

  /** The token endpoint: `tokenUrl`, else the discovered `token_endpoint`. */
  async tokenEndpoint(signal?: AbortSignal): Promise<string> {
    if (this.options.tokenUrl) return this.options.tokenUrl;
    const url = `${(this.options.issuer as string).replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let res: Response;
    try {
      res = await fetch(url, { headers: { accept: 'application/json' }, signal });
    } catch (err) {
      if (isTimeout(err, signal)) throw new FedgwError('timeout', `timed out fetching OIDC discovery ${url}`);
      throw new FedgwError('discovery', `OIDC discovery ${url} unreachable: ${networkCause(err)}`);
    }
    const body = (await readJson(res)) as { token_endpoint?: unknown } | undefined;
    if (!res.ok) throw new FedgwError('discovery', `OIDC discovery ${url} answered ${res.status}`, res.status);
    if (typeof body?.token_endpoint !== 'string' || !URL.canParse(body.token_endpoint)) {
      throw new FedgwError('discovery', `OIDC discovery ${url} names no token_endpoint`);
    }
    return body.token_endpoint;
  }

  private async requestToken(signal?: AbortSignal): Promise<AccessToken> {
    const o = this.options;
    const endpoint = await this.tokenEndpoint(signal);
    const secret = typeof o.clientSecret === 'string' ? o.clientSecret : await o.clientSecret(signal);
    try {
      return await this.post(endpoint, secret, signal);
    } catch (err) {
      if (err instanceof Error) err.message = scrubSecret(err.message, secret);
      throw err;
    }
  }

  private async post(endpoint: string, secret: string, signal?: AbortSignal): Promise<AccessToken> {
    const o = this.options;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: o.clientId, client_secret: secret });
    if (o.audience !== undefined) form.set('audience', o.audience);
    if (o.scope !== undefined) form.set('scope', o.scope);
    if (o.resource !== undefined) form.set('resource', o.resource);
    const startedAt = Date.now();
    let res: Response;
    try {
      res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        signal,
      });
    } catch (err) {
      if (isTimeout(err, signal)) throw new FedgwError('timeout', `timed out requesting a token from ${endpoint}`);
      throw new FedgwError('token', `token endpoint ${endpoint} unreachable: ${networkCause(err)}`);
    }
    const body = (await readJson(res)) as Record<string, unknown> | undefined;
    if (!res.ok || typeof body?.access_token !== 'string') {
      throw new FedgwError('token', `token endpoint ${endpoint} refused: ${oauthError(res.status, body)}`, res.status);
    }
    return { accessToken: body.access_token, expiresAt: expiry(body.expires_in, body.access_token, startedAt), fromCache: false };
  }
}

async function readJson(res: Response): Promise<unknown> {
  try {
    return JSON.parse(await res.text());
  } catch {
    return undefined;
  }
}

/** "401 invalid_client: <error_description>" (RFC 6749 §5.2). */
function oauthError(status: number, body: Record<string, unknown> | undefined): string {
  const error = typeof body?.error === 'string' ? body.error : undefined;
  const description = typeof body?.error_description === 'string' ? body.error_description : undefined;
  if (!error) return `${status}, no OAuth error in the answer`;
  return `${status} ${error}${description ? `: ${description}` : ''}`;
}

/** From expires_in (measured from when the request left, to stay on the safe side), else the JWT's exp. */
function expiry(expiresIn: unknown, token: string, startedAt: number): number | undefined {
  const seconds = typeof expiresIn === 'string' ? Number(expiresIn) : expiresIn;
  if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0) return startedAt + seconds * 1000;
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
