import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ClientSecretSpec, expandHome } from './lib/client-secret';
import { UsageError } from './usage-error';

export const DEFAULT_CONFIG_PATH = '~/.config/fedgw/clusters.yaml';

/** One cluster, its defaults applied. */
export interface ClusterConfig {
  readonly name: string;
  readonly gateway: string;
  readonly issuer?: string;
  readonly tokenUrl?: string;
  readonly clientId: string;
  readonly secret: ClientSecretSpec;
  readonly audience?: string;
  readonly scope?: string;
  readonly resource?: string;
}

export interface FedgwConfig {
  readonly path: string;
  readonly clusters: readonly ClusterConfig[];
}

const SECRET_KEYS = ['clientSecretFile', 'clientSecretEnv', 'clientSecretCommand'] as const;
const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const httpUrl = z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), 'must be an http(s) URL');
const text = z.string().trim().min(1, 'must not be empty');

const clusterShape = {
  gateway: httpUrl.optional(),
  issuer: httpUrl.optional(),
  tokenUrl: httpUrl.optional(),
  clientId: text.optional(),
  clientSecretFile: text.optional(),
  clientSecretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
  clientSecretCommand: text.optional(),
  audience: text.optional(),
  scope: text.optional(),
  resource: httpUrl.optional(),
};
type ClusterKeys = { -readonly [K in keyof typeof clusterShape]?: z.infer<(typeof clusterShape)[K]> };
type ClusterKey = keyof ClusterKeys;

const fileSchema = z.strictObject({
  defaults: z.unknown().optional(),
  clusters: z.record(z.string(), z.unknown()),
});

/** Which file: --config, else $FEDGW_CONFIG, else ~/.config/fedgw/clusters.yaml. */
export function configPath(option: string | undefined, env: NodeJS.ProcessEnv): string {
  return expandHome(option || env.FEDGW_CONFIG || DEFAULT_CONFIG_PATH, env.HOME || homedir());
}

/** Reads and checks the configuration file; a UsageError lists every problem, naming cluster and key. */
export function loadCliConfig(path: string): FedgwConfig {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError([`configuration file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  return parseCliConfig(source, path);
}

export function parseCliConfig(source: string, path: string): FedgwConfig {
  const doc = parseDocument(source, { prettyErrors: false });
  if (doc.errors.length > 0) throw new UsageError(doc.errors.map((e) => `${path}: ${e.message}`));
  const parsed = fileSchema.safeParse(doc.toJS() ?? {}, { reportInput: true });
  if (!parsed.success) throw new UsageError(parsed.error.issues.flatMap((i) => describeIssue(i, [])).map((p) => `${path}: ${p}`));

  const problems: string[] = [];
  const clusters: ClusterConfig[] = [];
  // Key by key, so that one bad value or typo hides none of the other problems.
  const checked = (value: unknown, where: string): { keys: ClusterKeys; given: Set<ClusterKey> } => {
    const keys: ClusterKeys = {};
    const given = new Set<ClusterKey>();
    if (value === null || value === undefined) return { keys, given };
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${where}: must be a mapping of keys`);
      return { keys, given };
    }
    for (const [key, raw] of Object.entries(value)) {
      if (!Object.hasOwn(clusterShape, key)) {
        problems.push(`${where}.${key}: unknown key`);
        continue;
      }
      given.add(key as ClusterKey);
      const result = clusterShape[key as ClusterKey].safeParse(raw, { reportInput: true });
      if (result.success) (keys as Record<string, unknown>)[key] = result.data;
      else problems.push(...result.error.issues.flatMap((i) => describeIssue(i, [where, key])));
    }
    return { keys, given };
  };
  const defaults = checked(parsed.data.defaults, 'defaults');
  problems.push(...secretSourceProblems('defaults', defaults.given));
  const entries = Object.entries(parsed.data.clusters);
  if (entries.length === 0) problems.push('clusters: no cluster configured');
  for (const [name, value] of entries) {
    const where = `clusters.${name}`;
    if (!CLUSTER_NAME.test(name)) problems.push(`${where}: a cluster name may hold only letters, digits, '.', '_' and '-'`);
    const own = checked(value, where);
    problems.push(...secretSourceProblems(where, own.given));
    // A cluster's own secret source replaces the defaults' one; every other key merges one by one.
    const ownSecret = SECRET_KEYS.some((k) => own.given.has(k));
    const given = new Set([...[...defaults.given].filter((k) => !(ownSecret && isSecretKey(k))), ...own.given]);
    const merged: ClusterKeys = { ...defaults.keys, ...own.keys };
    if (ownSecret) for (const k of SECRET_KEYS) merged[k] = own.keys[k];
    const missing = [
      !given.has('gateway') && 'gateway',
      !given.has('clientId') && 'clientId',
      !given.has('issuer') && !given.has('tokenUrl') && 'issuer or tokenUrl',
      !SECRET_KEYS.some((k) => given.has(k)) && 'clientSecretFile, clientSecretEnv or clientSecretCommand',
    ].filter((m): m is string => typeof m === 'string');
    for (const key of missing) problems.push(`${where}: ${key} is required`);
    // Problems were found; what follows only builds a valid configuration.
    if (problems.length > 0) continue;
    const secret: ClientSecretSpec | undefined =
      merged.clientSecretFile !== undefined
        ? { file: merged.clientSecretFile }
        : merged.clientSecretEnv !== undefined
          ? { env: merged.clientSecretEnv }
          : merged.clientSecretCommand !== undefined
            ? { command: merged.clientSecretCommand }
            : undefined;
    clusters.push({
      name,
      gateway: (merged.gateway as string).replace(/\/+$/, ''),
      // tokenUrl wins over issuer wherever either comes from.
      ...(merged.tokenUrl !== undefined ? { tokenUrl: merged.tokenUrl } : { issuer: merged.issuer }),
      clientId: merged.clientId as string,
      secret: secret as ClientSecretSpec,
      audience: merged.audience,
      scope: merged.scope,
      resource: merged.resource,
    });
  }
  if (problems.length > 0) throw new UsageError(problems.map((p) => `${path}: ${p}`));
  return { path, clusters };
}

function secretSourceProblems(where: string, given: ReadonlySet<ClusterKey>): string[] {
  const sources = SECRET_KEYS.filter((k) => given.has(k));
  return sources.length > 1 ? [`${where}: ${sources.join(' and ')} are both set; keep one secret source`] : [];
}

function isSecretKey(key: ClusterKey): boolean {
  return (SECRET_KEYS as readonly string[]).includes(key);
}

function describeIssue(issue: z.core.$ZodIssue, prefix: string[]): string[] {
  const where = [...prefix, ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${where ? `${where}.` : ''}${k}: unknown key`);
  if (issue.code === 'invalid_type' && issue.input === undefined) return [`${where}: is required`];
  return [`${where || '(top level)'}: ${issue.message}`];
}

/** The clusters named, in the order given, or all of them; unknown names are a UsageError. */
export function selectClusters(config: FedgwConfig, names: readonly string[]): ClusterConfig[] {
  if (names.length === 0) return [...config.clusters];
  const known = new Map(config.clusters.map((c) => [c.name, c]));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    const list = [...known.keys()].join(', ');
    throw new UsageError(unknown.map((n) => `unknown cluster "${n}" (configured: ${list})`));
  }
  return [...new Set(names)].map((n) => known.get(n) as ClusterConfig);
}

