import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AccessDocument, AccessFileError, parseAccessFile, readAccessFile } from '../access/access-file';
import { parseDuration } from './duration';

export const DEFAULT_PORT = 8080;
export const DEFAULT_METRICS_PORT = 8082;
export const DEFAULT_GATEWAY_URL = 'http://gateway.openfaas:8080';
export const DEFAULT_SECRET_MOUNT_PATH = '/var/secrets';
export const SUPPORTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;
export const DEFAULT_ALGORITHMS = SUPPORTED_ALGORITHMS.join(',');
export const DEFAULT_CLOCK_SKEW = '30s';
export const DEFAULT_AUDIENCE_CLAIMS = 'aud';
export const SUPPORTED_AUDIENCE_CLAIMS = ['aud', 'azp', 'client_id', 'appid', 'cid'] as const;
export const DEFAULT_JWKS_REFRESH = '5m';
export const DEFAULT_JWKS_COOLDOWN = '30s';
export const DEFAULT_UPSTREAM_TIMEOUT = '60s';
export const DEFAULT_READ_TIMEOUT = '65s';
export const DEFAULT_WRITE_TIMEOUT = '65s';
export const DEFAULT_SHUTDOWN_TIMEOUT = '25s';
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;
/** The name of the issuer that `issuer`/`audience` describe. */
export const ENV_ISSUER_NAME = 'env';
export const DEFAULT_NAMESPACE = 'openfaas-fn';
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const BASIC_AUTH_USER_FILE = 'basic-auth-user';
export const BASIC_AUTH_PASSWORD_FILE = 'basic-auth-password';

export type Algorithm = (typeof SUPPORTED_ALGORITHMS)[number];
export type AudienceClaim = (typeof SUPPORTED_AUDIENCE_CLAIMS)[number];

/** One accepted token issuer: `issuer`/`audience` from the environment, or a JwtIssuer of the access file. */
export interface IssuerSettings {
  /** How logs, metrics and status name it: "env" for the environment's, else the JwtIssuer's name. */
  readonly name: string;
  /** The `iss` tokens carry, matched exactly. */
  readonly iss: string;
  readonly audiences: readonly string[];
  readonly audienceClaims: readonly AudienceClaim[];
  readonly algorithms: readonly Algorithm[];
  /** A JWKS to use instead of the discovered jwks_uri. */
  readonly jwksUrl: string | undefined;
  /** Where to fetch discovery (and keys on the same origin) instead of `iss` (a JwtIssuer's issInternal). */
  readonly fetchBase: string | undefined;
}

/** Every setting of the gateway, parsed and checked once at boot. Durations are milliseconds. */
export interface GatewayConfig {
  /** Every accepted issuer, the environment's first. */
  readonly issuers: readonly IssuerSettings[];
  readonly port: number;
  readonly metricsPort: number;
  readonly gatewayUrl: URL;
  readonly allowInvoke: boolean;
  readonly secretMountPath: string;
  readonly clockSkewMs: number;
  /** The access file's path, when permissions are on. */
  readonly accessFile: string | undefined;
  /** The access file as read at start (the access module re-reads it when it changes), and its text. */
  readonly access: AccessDocument | undefined;
  readonly accessContent: string | undefined;
  /** The issuer that `issuer`/`audience` describe, when set. */
  readonly environmentIssuer: IssuerSettings | undefined;
  /** The `algorithms` variable: the environment issuer's, and the default of every JwtIssuer. */
  readonly algorithms: readonly Algorithm[];
  /** The namespace OpenFaaS acts on when a request names none. */
  readonly defaultNamespace: string;
  readonly jwksRefreshMs: number;
  readonly jwksCooldownMs: number;
  readonly upstreamTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly writeTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logEncoding: 'console' | 'json';
  readonly debug: boolean;
  readonly graphqlIntrospection: boolean;
  readonly tokenCacheSize: number;
  readonly auditWebhookUrl: URL | undefined;
  readonly auditWebhookSecretFile: string | undefined;
}

/** Thrown when the environment does not describe a gateway that can run; lists every problem. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const TRUE_WORDS = new Set(['1', 't', 'true']);
const FALSE_WORDS = new Set(['0', 'f', 'false']);

const list = (text: string) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

const bool = (fallback: boolean) =>
  optionalText.transform((v, ctx) => {
    if (v === undefined) return fallback;
    const word = v.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a boolean; use true or false` });
    return z.NEVER;
  });

const port = (fallback: number) =>
  optionalText.transform((v, ctx) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    // 0 asks the system for a free port (tests and the benchmark use it).
    if (!/^\d+$/.test(v) || n > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a TCP port; use a whole number from 1 to 65535` });
      return z.NEVER;
    }
    return n;
  });

const duration = (fallback: string, { min = 1 }: { min?: number } = {}) =>
  optionalText.transform((v, ctx) => {
    const ms = parseDuration(v ?? fallback);
    if (ms === undefined || ms < min) {
      ctx.addIssue({
        code: 'custom',
        message: `"${v}" is not a positive duration; use whole seconds ("60") or a Go duration ("1m05s", "500ms")`,
      });
      return z.NEVER;
    }
    return ms;
  });

const httpUrl = (what: string) =>
  z.string().transform((v, ctx) => {
    try {
      const url = new URL(v.trim());
      if (url.protocol === 'http:' || url.protocol === 'https:') return url;
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: `"${v}" is not an http(s) URL; ${what}` });
    return z.NEVER;
  });

const oneOfList = <T extends string>(allowed: readonly T[], fallback: string, forbidden?: (item: string) => string | undefined) =>
  optionalText.transform((v, ctx) => {
    const items = list(v ?? fallback);
    if (items.length === 0) {
      ctx.addIssue({ code: 'custom', message: `must name at least one of ${allowed.join(', ')}` });
      return z.NEVER;
    }
    const wrong = items.filter((item) => !(allowed as readonly string[]).includes(item));
    for (const item of wrong) {
      const why = forbidden?.(item) ?? `"${item}" is not supported`;
      ctx.addIssue({ code: 'custom', message: `${why}; use a comma-separated list of ${allowed.join(', ')}` });
    }
    return wrong.length ? z.NEVER : ([...new Set(items)] as T[]);
  });

const algorithmForbidden = (item: string) =>
  /^hs\d+$/i.test(item) || item.toLowerCase() === 'none'
    ? `"${item}" is never accepted (symmetric and unsigned tokens cannot prove who issued them)`
    : undefined;

const schema = z.object({
  port: port(DEFAULT_PORT),
  metrics_port: port(DEFAULT_METRICS_PORT),
  gateway_url: optionalText.pipe(
    z.string().default(DEFAULT_GATEWAY_URL).pipe(httpUrl('point it at the OpenFaaS gateway, e.g. http://gateway.openfaas:8080')),
  ),
  issuer: optionalText.pipe(
    z.string().optional().transform((v, ctx) => {
      if (v === undefined) return undefined;
      const parsed = httpUrl('set it to the OIDC issuer URL exactly as tokens carry it in "iss"').safeParse(v);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
        return z.NEVER;
      }
      const url = parsed.data;
      if (url.search || url.hash) {
        ctx.addIssue({ code: 'custom', message: `"${v}" must not carry a query or fragment` });
        return z.NEVER;
      }
      return v;
    }),
  ),
  audience: optionalText.transform(
    (v, ctx) => {
      if (v === undefined) return undefined;
      const items = list(v);
      if (items.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'names no audience; give at least one, comma-separated' });
        return z.NEVER;
      }
      return items;
    },
  ),
  allow_invoke: bool(false),
  secret_mount_path: optionalText.transform((v) => v ?? DEFAULT_SECRET_MOUNT_PATH),
  jwks_url: optionalText.pipe(z.string().pipe(httpUrl('or leave it unset to use the discovered jwks_uri')).optional()),
  algorithms: oneOfList(SUPPORTED_ALGORITHMS, DEFAULT_ALGORITHMS, algorithmForbidden),
  clock_skew: duration(DEFAULT_CLOCK_SKEW, { min: 0 }),
  audience_claims: oneOfList(SUPPORTED_AUDIENCE_CLAIMS, DEFAULT_AUDIENCE_CLAIMS),
  jwks_refresh: duration(DEFAULT_JWKS_REFRESH, { min: 1000 }),
  jwks_cooldown: duration(DEFAULT_JWKS_COOLDOWN, { min: 0 }),
  upstream_timeout: duration(DEFAULT_UPSTREAM_TIMEOUT),
  read_timeout: duration(DEFAULT_READ_TIMEOUT),
  write_timeout: duration(DEFAULT_WRITE_TIMEOUT),
  shutdown_timeout: duration(DEFAULT_SHUTDOWN_TIMEOUT, { min: 0 }),
  log_encoding: optionalText.transform((v, ctx) => {
    const value = (v ?? 'console').toLowerCase();
    if (value === 'console' || value === 'json') return value;
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a log encoding; use console or json` });
    return z.NEVER;
  }),
  debug: bool(false),
  graphql_introspection: bool(false),
  token_cache_size: optionalText.transform((v, ctx) => {
    if (v === undefined) return DEFAULT_TOKEN_CACHE_SIZE;
    if (!/^\d+$/.test(v)) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a whole number; use 0 to turn the cache off` });
      return z.NEVER;
    }
    return Number(v);
  }),
  audit_webhook_url: optionalText.pipe(z.string().pipe(httpUrl('or leave it unset to keep audit events in the log only')).optional()),
  audit_webhook_secret_file: optionalText,
  access_file: optionalText,
  default_namespace: optionalText.transform((v, ctx) => {
    const value = v ?? DEFAULT_NAMESPACE;
    if (!NAMESPACE_NAME.test(value)) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a Kubernetes namespace name (lower-case letters, digits and -, at most 63)` });
      return z.NEVER;
    }
    return value;
  }),
});

type Env = Record<string, string | undefined>;

/**
 * Reads the gateway's configuration from environment variables named as the OpenFaaS
 * federated-gateway chart names them. Throws ConfigError naming every problem at once.
 */
export function loadConfig(env: Env = process.env): GatewayConfig {
  const problems: string[] = [];
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? 'environment');
      const got = env[variable];
      const message = issue.code === 'custom' || got !== undefined ? issue.message : 'is required';
      problems.push(`${variable}: ${message}`);
    }
  }
  const secretMountPath = env.secret_mount_path?.trim() || DEFAULT_SECRET_MOUNT_PATH;
  for (const name of [BASIC_AUTH_USER_FILE, BASIC_AUTH_PASSWORD_FILE]) {
    const problem = checkSecretFile(join(secretMountPath, name));
    if (problem) problems.push(`secret_mount_path: ${problem}`);
  }
  if (parsed.success) {
    const v = parsed.data;
    if (v.audit_webhook_url && !v.audit_webhook_secret_file) {
      problems.push('audit_webhook_secret_file: is required when audit_webhook_url is set, so that receivers can check the signature');
    }
    if (v.audit_webhook_secret_file) {
      const problem = checkSecretFile(v.audit_webhook_secret_file);
      if (problem) problems.push(`audit_webhook_secret_file: ${problem}`);
    }
  }
  let access: AccessDocument | undefined;
  let accessContent: string | undefined;
  const accessFile = env.access_file?.trim() || undefined;
  if (accessFile) {
    try {
      accessContent = readAccessFile(accessFile);
      access = parseAccessFile(accessContent, accessFile);
    } catch (err) {
      if (!(err instanceof AccessFileError)) throw err;
      problems.push(...err.problems.map((problem) => `access_file: ${accessFile}: ${problem}`));
    }
  }
  const issuerSet = Boolean(env.issuer?.trim());
  const audienceSet = Boolean(env.audience?.trim());
  if (!issuerSet && (audienceSet || !accessFile)) problems.push(`issuer: is required${audienceSet ? ' with audience' : ''}; set it to the OIDC issuer URL, e.g. https://keycloak.example.com/realms/vendor`);
  if (!audienceSet && (issuerSet || !accessFile)) problems.push(`audience: is required${issuerSet ? ' with issuer' : ''}; set it to the audience(s) your tokens carry, comma-separated, e.g. openfaas-gateway`);
  let issuers: readonly IssuerSettings[] = [];
  let fromEnvironment: IssuerSettings | undefined;
  if (parsed.success) {
    const v = parsed.data;
    fromEnvironment = v.issuer !== undefined && v.audience !== undefined ? environmentIssuer(v) : undefined;
    const merged = accessIssuers(fromEnvironment, access, v.algorithms);
    if (typeof merged === 'string') problems.push(merged);
    else issuers = merged;
    if (access !== undefined && issuers.length === 0 && typeof merged !== 'string') {
      problems.push('access_file: accepts no issuer: add a JwtIssuer to it, or set issuer and audience');
    }
  }
  if (problems.length || !parsed.success) {
    throw new ConfigError(problems);
  }
  const v = parsed.data;
  return Object.freeze({
    issuers,
    port: v.port,
    metricsPort: v.metrics_port,
    gatewayUrl: v.gateway_url,
    allowInvoke: v.allow_invoke,
    secretMountPath,
    clockSkewMs: v.clock_skew,
    accessFile,
    access,
    accessContent,
    environmentIssuer: fromEnvironment,
    algorithms: Object.freeze(v.algorithms),
    defaultNamespace: v.default_namespace,
    jwksRefreshMs: v.jwks_refresh,
    jwksCooldownMs: v.jwks_cooldown,
    upstreamTimeoutMs: v.upstream_timeout,
    readTimeoutMs: v.read_timeout,
    writeTimeoutMs: v.write_timeout,
    shutdownTimeoutMs: v.shutdown_timeout,
    logEncoding: v.log_encoding,
    debug: v.debug,
    graphqlIntrospection: v.graphql_introspection,
    tokenCacheSize: v.token_cache_size,
    auditWebhookUrl: v.audit_webhook_url,
    auditWebhookSecretFile: v.audit_webhook_secret_file,
  });
}

type Parsed = z.output<typeof schema>;

function environmentIssuer(v: Parsed): IssuerSettings {
  return Object.freeze({
    name: ENV_ISSUER_NAME,
    iss: v.issuer as string,
    audiences: Object.freeze(v.audience as string[]),
    audienceClaims: Object.freeze(v.audience_claims),
    algorithms: Object.freeze(v.algorithms),
    jwksUrl: v.jwks_url?.toString(),
    fetchBase: undefined,
  });
}

/**
 * Every accepted issuer: the environment's (when set) first, then the access file's JwtIssuers,
 * which default to audience_claims=aud and the environment's algorithms. Returns the problem
 * when two of them share an `iss`.
 */
export function accessIssuers(env: IssuerSettings | undefined, access: AccessDocument | undefined, algorithms: readonly Algorithm[]): readonly IssuerSettings[] | string {
  const issuers: IssuerSettings[] = env ? [env] : [];
  for (const spec of access?.issuers ?? []) {
    if (env && spec.name === env.name) {
      return `access_file: JwtIssuer "${spec.name}": metadata.name "${env.name}" names the issuer variable's issuer in metrics and status; choose another name`;
    }
    const clash = issuers.find((other) => other.iss === spec.iss);
    if (clash) {
      const other = clash.name === ENV_ISSUER_NAME ? 'the issuer variable' : `JwtIssuer "${clash.name}"`;
      return `access_file: JwtIssuer "${spec.name}": spec.iss ${JSON.stringify(spec.iss)} is also ${other}; each issuer may be given once`;
    }
    issuers.push(
      Object.freeze({
        name: spec.name,
        iss: spec.iss,
        audiences: Object.freeze([...spec.aud]),
        audienceClaims: Object.freeze([...(spec.audienceClaims ?? [DEFAULT_AUDIENCE_CLAIMS as AudienceClaim])]),
        algorithms: Object.freeze([...(spec.algorithms ?? algorithms)]),
        jwksUrl: spec.jwksUrl,
        fetchBase: spec.issInternal,
      }),
    );
  }
  return Object.freeze(issuers);
}

/** Reads a mounted secret file, trimmed as OpenFaaS trims it; throws when missing or empty. */
export function readSecretFile(path: string): string {
  const value = readFileSync(path, 'utf8').trim();
  if (!value) {
    throw new Error(`${path} is empty`);
  }
  return value;
}

function checkSecretFile(path: string): string | undefined {
  try {
    readSecretFile(path);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${path} does not exist; mount the secret there`;
    if (code === 'EACCES') return `${path} cannot be read by this process`;
    if (code === 'EISDIR') return `${path} is a folder, not a file`;
    return `${path}: ${(err as Error).message}`;
  }
}
