import crypto, { JsonWebKey, KeyObject } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { request } from './http-client';
import { generateSigningKeyAsync, SigningKey } from './keys';
import { LoopbackServer } from './loopback-server';

/** The slice of oidc-provider's API used here (the package ships no TypeScript types). */
interface OidcProvider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
interface OidcContext {
  oidc: { params: Record<string, unknown> };
}
// oidc-provider is ESM-only; Node >= 20.19 loads it through require(esm).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Provider } = require('oidc-provider') as {
  Provider: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
};

export interface IdentityProviderClient {
  clientId: string;
  clientSecret: string;
  /** How the client authenticates at the token endpoint; default 'client_secret_post'. */
  authMethod?: 'client_secret_post' | 'client_secret_basic';
}

export interface IdentityProviderOptions {
  port?: number;
  /** The `aud` of issued access tokens; default 'openfaas-gateway'. */
  audience?: string;
  clients?: IdentityProviderClient[];
  signingAlg?: 'RS256' | 'ES256';
  accessTokenTtlSeconds?: number;
  /**
   * More claims for the access tokens of a client (oidc-provider's extraTokenClaims), such as the
   * azp, groups or realm_access.roles a Keycloak token carries; undefined adds none.
   */
  extraClaims?: (clientId: string) => Record<string, unknown> | undefined;
}

export interface ClientCredentialsRequest {
  clientId?: string;
  clientSecret?: string;
  scope?: string;
  /**
   * RFC 8707 resource indicator (an absolute URI). Omitted: the token's `aud` is the configured
   * audience. Any other resource becomes the token's `aud` verbatim (a real token for the wrong audience).
   */
  resource?: string;
}

/** A token endpoint refusal, carrying the IdP's status and error body. */
export class TokenRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`token request failed with ${status}: ${body}`);
  }
}

/**
 * A real OpenID provider (oidc-provider) on a loopback port issuing client-credentials JWT access
 * tokens (`typ: at+jwt`) whose `aud` is the configured audience, signed with a key generated at start.
 */
export class TestIdentityProvider {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  readonly audience: string;

  private constructor(
    private readonly server: LoopbackServer,
    private readonly key: SigningKey,
    audience: string,
    private readonly clients: IdentityProviderClient[],
  ) {
    this.issuer = server.url;
    this.jwksUri = `${this.issuer}/jwks`;
    this.tokenEndpoint = `${this.issuer}/token`;
    this.audience = audience;
  }

  static async start(opts: IdentityProviderOptions = {}): Promise<TestIdentityProvider> {
    const audience = opts.audience ?? 'openfaas-gateway';
    const clients = opts.clients ?? [{ clientId: 'demo-client', clientSecret: 'demo-secret' }];
    const alg = opts.signingAlg ?? 'RS256';
    const ttl = opts.accessTokenTtlSeconds ?? 300;
    const key = await generateSigningKeyAsync(alg);

    let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    const server = await LoopbackServer.start((req, res) => handle?.(req, res), opts.port);
    const defaultResource = URL.canParse(audience) ? audience : `urn:test-idp:audience:${encodeURIComponent(audience)}`;

    const provider = new Provider(server.url, {
      clients: clients.map((c) => ({
        client_id: c.clientId,
        client_secret: c.clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: c.authMethod ?? 'client_secret_post',
      })),
      clientDefaults: { id_token_signed_response_alg: alg },
      adapter: memoryAdapter(),
      jwks: { keys: [privateJwk(key)] },
      cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
      ttl: { ClientCredentials: ttl },
      ...(opts.extraClaims
        ? { extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => opts.extraClaims?.(token.clientId ?? '') }
        : {}),
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => defaultResource,
          useGrantedResource: () => true,
          getResourceServerInfo: (ctx: OidcContext, resource: string) => ({
            scope: typeof ctx.oidc.params.scope === 'string' ? ctx.oidc.params.scope : '',
            audience: resource === defaultResource ? audience : resource,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ttl,
            jwt: { sign: { alg } },
          }),
        },
      },
    });
    handle = provider.callback();
    return new TestIdentityProvider(server, key, audience, clients);
  }

  get port(): number {
    return this.server.port;
  }

  /** Requests a client-credentials access token over HTTP, as any client would. */
  async clientCredentialsToken(opts: ClientCredentialsRequest = {}): Promise<string> {
    const registered = this.clients.find((c) => c.clientId === (opts.clientId ?? this.clients[0]?.clientId));
    const clientId = opts.clientId ?? registered?.clientId ?? '';
    const clientSecret = opts.clientSecret ?? registered?.clientSecret ?? '';
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (registered?.authMethod === 'client_secret_basic') {
      const basic = `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`;
      headers.Authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
    } else {
      form.set('client_id', clientId);
      form.set('client_secret', clientSecret);
    }
    if (opts.scope !== undefined) form.set('scope', opts.scope);
    if (opts.resource !== undefined) form.set('resource', opts.resource);

    const res = await request(this.tokenEndpoint, { method: 'POST', headers, body: form.toString() });
    const token = res.status === 200 ? (res.json() as { access_token?: unknown }).access_token : undefined;
    if (typeof token !== 'string') throw new TokenRequestError(res.status, res.text);
    return token;
  }

  /** The key the IdP signs access tokens with, for forging tokens that pass the signature check. */
  signingKey(): { kid: string; alg: string; privateKey: KeyObject; publicKey: KeyObject; publicJwk: JsonWebKey } {
    return { ...this.key, publicJwk: { ...this.key.publicJwk } };
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

function privateJwk(key: SigningKey): JsonWebKey {
  return { ...key.privateKey.export({ format: 'jwk' }), kid: key.kid, alg: key.alg, use: 'sig' };
}

type Stored = Record<string, unknown>;

/**
 * Storage private to one provider instance (JWT access tokens are not stored at all); replaces
 * oidc-provider's process-wide development adapter, which warns on every instantiation.
 */
function memoryAdapter() {
  const store = new Map<string, Stored>();
  const findBy = (field: string, value: string) => [...store.values()].find((p) => p[field] === value);
  return class MemoryAdapter {
    constructor(private readonly model: string) {}
    async upsert(id: string, payload: Stored): Promise<void> {
      store.set(`${this.model}:${id}`, payload);
    }
    async find(id: string): Promise<Stored | undefined> {
      return store.get(`${this.model}:${id}`);
    }
    async findByUid(uid: string): Promise<Stored | undefined> {
      return findBy('uid', uid);
    }
    async findByUserCode(userCode: string): Promise<Stored | undefined> {
      return findBy('userCode', userCode);
    }
    async consume(id: string): Promise<void> {
      const payload = store.get(`${this.model}:${id}`);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      store.delete(`${this.model}:${id}`);
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, payload] of store) if (payload.grantId === grantId) store.delete(key);
    }
  };
}
