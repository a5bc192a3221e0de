// The token source and GraphQL client fedgw uses, for the vendor's own services.
export { ClientSecretSpec, expandHome, readClientSecret, scrubSecret } from './client-secret';
export { FedgwError, FedgwErrorKind } from './fedgw-error';
export { FunctionSummary, GatewayClient, GatewayClientOptions, GatewayStatus, GraphqlError, GraphqlResponse, TokenDiagnostics } from './gateway-client';
export { CACHE_MARGIN_MS, CachedToken, TokenCache, TokenIdentity } from './token-cache';
export { AccessToken, TokenRequestOptions, TokenSource, TokenSourceOptions } from './token-source';
