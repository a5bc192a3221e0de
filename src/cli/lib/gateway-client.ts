import { networkCause } from '../../common/capped-fetch';
import { FedgwError, isTimeout } from './fedgw-error';

export interface GraphqlError {
  message: string;
  extensions?: { code?: string } & Record<string, unknown>;
}

export interface GraphqlResponse<T = unknown> {
  data?: T | null;
  errors?: GraphqlError[];
}

export interface GatewayClientOptions {
  /** The federated gateway's base URL, e.g. https://customer-a.example.com. */
  gateway: string;
  /** The bearer token, or a function giving one per call (e.g. a TokenSource's). */
  token: string | ((signal?: AbortSignal) => Promise<string>);
}

export interface GatewayStatus {
  version: string;
  uptimeSeconds: number;
  allowInvoke: boolean;
  upstream: { url: string; healthy: boolean; latencyMs: number | null; version: string | null; error: string | null };
  issuer: { issuer: string; audiences: string[] };
}

export interface FunctionSummary {
  name: string;
  namespace: string | null;
  image: string | null;
  replicas: number | null;
  availableReplicas: number | null;
  invocationCount: number | null;
}

export interface TokenDiagnostics {
  valid: boolean;
  reason: string | null;
  description: string | null;
  clientId: string | null;
  subject: string | null;
  issuer: string | null;
  audiences: string[];
  expiresInSeconds: number | null;
  checks: Array<{ name: string; passed: boolean; detail: string }>;
}

const GATEWAY_STATUS = `{ gatewayStatus { version uptimeSeconds allowInvoke
  upstream { url healthy latencyMs version error } issuer { issuer audiences } } }`;
const FUNCTIONS = `query ($namespace: String) { functions(namespace: $namespace) {
  name namespace image replicas availableReplicas invocationCount } }`;
const TOKEN_DIAGNOSTICS = `query ($token: String!) { tokenDiagnostics(token: $token) {
  valid reason description clientId subject issuer audiences expiresInSeconds checks { name passed detail } } }`;

/**
 * The federated gateway's GraphQL admin API (POST /graphql) with a bearer token. Errors carry
 * the gateway's own `error_description` (401/403/502) or its GraphQL error messages.
 */
export class GatewayClient {
  readonly endpoint: string;

  constructor(private readonly options: GatewayClientOptions) {
    this.endpoint = `${options.gateway.replace(/\/+$/, '')}/graphql`;
  }

  /** Runs a document and returns the whole GraphQL answer, `errors` included. */
  async request<T = unknown>(query: string, variables?: Record<string, unknown>, signal?: AbortSignal): Promise<GraphqlResponse<T>> {
    const token = typeof this.options.token === 'string' ? this.options.token : await this.options.token(signal);
    let res: Response;
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify({ query, variables }),
        signal,
      });
    } catch (err) {
      if (isTimeout(err, signal)) throw new FedgwError('timeout', `timed out calling the gateway ${this.endpoint}`);
      throw new FedgwError('gateway', `gateway ${this.endpoint} unreachable: ${networkCause(err)}`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (isTimeout(err, signal)) throw new FedgwError('timeout', `timed out reading the gateway's answer from ${this.endpoint}`);
      throw new FedgwError('gateway', `gateway ${this.endpoint} broke off its answer: ${networkCause(err)}`);
    }
    let body: (GraphqlResponse<T> & { error?: unknown; error_description?: unknown }) | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    if (body && typeof body.error === 'string') {
      const description = typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
      throw new FedgwError('gateway', `gateway refused (${res.status} ${body.error})${description}`, res.status);
    }
    // GraphQL over HTTP answers some errors (a bad document) with 400 and a GraphQL body.
    if (body && (Array.isArray(body.errors) || (res.ok && 'data' in body))) return { data: body.data, errors: body.errors };
    throw new FedgwError('gateway', `gateway ${this.endpoint} answered ${res.status} without a GraphQL body`, res.status);
  }

  /** Runs a document and returns its data; GraphQL errors become a FedgwError. */
  async query<T = unknown>(query: string, variables?: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    const answer = await this.request<T>(query, variables, signal);
    if (answer.errors?.length || answer.data == null) {
      const messages = (answer.errors ?? []).map((e) => (e.extensions?.code ? `${e.message} (${e.extensions.code})` : e.message));
      throw new FedgwError('graphql', `gateway answered with errors: ${messages.join('; ') || 'no data'}`);
    }
    return answer.data;
  }

  async gatewayStatus(signal?: AbortSignal): Promise<GatewayStatus> {
    return (await this.query<{ gatewayStatus: GatewayStatus }>(GATEWAY_STATUS, undefined, signal)).gatewayStatus;
  }

  async functions(namespace?: string, signal?: AbortSignal): Promise<FunctionSummary[]> {
    return (await this.query<{ functions: FunctionSummary[] }>(FUNCTIONS, { namespace }, signal)).functions;
  }

  async tokenDiagnostics(token: string, signal?: AbortSignal): Promise<TokenDiagnostics> {
    return (await this.query<{ tokenDiagnostics: TokenDiagnostics }>(TOKEN_DIAGNOSTICS, { token }, signal)).tokenDiagnostics;
  }
}
