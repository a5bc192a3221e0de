import { readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments, parseDocument } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../config/duration';
import { STATEMENT_ACTIONS, StatementAction } from './access-actions';

export const IAM_API_VERSION = 'iam.openfaas.com/v1';
/** Older OpenFaaS charts define Role under this group. */
export const LEGACY_ROLE_API_VERSION = 'openfaas.com/v1';
export const CONDITION_OPERATORS = [
  'StringEqual',
  'StringEqualIgnoreCase',
  'StringLike',
  'ForAnyValue:StringEqual',
  'ForAnyValue:StringLike',
] as const;
// The same lists as src/config/gateway-config.ts; repeated so that config may import this module.
export const ISSUER_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;
export const ISSUER_AUDIENCE_CLAIMS = ['aud', 'azp', 'client_id', 'appid', 'cid'] as const;

export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];
/** Operator → claim (`jwt:<claim>`) → accepted values. */
export type Condition = Partial<Record<ConditionOperator, Record<string, string[]>>>;

export interface IssuerSpec {
  readonly name: string;
  readonly iss: string;
  readonly aud: string[];
  readonly issInternal?: string;
  readonly jwksUrl?: string;
  readonly audienceClaims?: Array<(typeof ISSUER_AUDIENCE_CLAIMS)[number]>;
  readonly algorithms?: Array<(typeof ISSUER_ALGORITHMS)[number]>;
}

export interface RoleSpec {
  readonly name: string;
  readonly policies: string[];
  readonly principal?: Record<string, string[]>;
  readonly condition?: Condition;
}

export interface StatementSpec {
  readonly sid: string;
  readonly actions: StatementAction[];
  readonly resources: string[];
  readonly condition?: Condition;
}

export interface PolicySpec {
  readonly name: string;
  readonly statements: StatementSpec[];
}

export interface AccessDocument {
  readonly issuers: readonly IssuerSpec[];
  readonly roles: readonly RoleSpec[];
  readonly policies: readonly PolicySpec[];
}

/** Thrown when an access file cannot be used; lists every problem found, not only the first. */
export class AccessFileError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid access file ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'AccessFileError';
  }
}

const KINDS = ['JwtIssuer', 'Role', 'Policy'] as const;
/** Kubernetes names: a namespace is a DNS-1123 label, a function or secret name a DNS-1123 subdomain. */
const NAMESPACE_NAME = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;

const nonEmpty = (what: string) =>
  z
    .string({ error: (iss) => (iss.input === undefined ? `is required; ${what}` : `must be a string; ${what}`) })
    .min(1, { error: `must not be empty; ${what}` });

const strict = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') return `unknown field; use ${Object.keys(shape).join(', ')}`;
      if (iss.code === 'invalid_type') return iss.input === undefined ? 'is required' : 'must be a mapping';
      return undefined;
    },
  });

const list = <T extends z.ZodType>(item: T, what: string) =>
  z
    .array(item, { error: (iss) => (iss.input === undefined ? `is required; ${what}` : `must be a list; ${what}`) })
    .min(1, { error: `must not be empty; ${what}` });

const httpUrl = (what: string, { bare = false } = {}) =>
  z.string({ error: (iss) => (iss.input === undefined ? `is required; ${what}` : `must be a string; ${what}`) }).superRefine((v, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(v);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not an http(s) URL; ${what}` });
    } else if (bare && (url.search || url.hash || v.includes('?') || v.includes('#'))) {
      ctx.addIssue({ code: 'custom', message: `"${v}" must not carry a query or fragment` });
    }
  });

const conditionValues = list(nonEmpty('a claim value to accept'), 'give the accepted values, e.g. ["value"]');

const claimName = (ctx: z.RefinementCtx, claim: string, path: PropertyKey[]) => {
  if (!/^jwt:./.test(claim)) {
    ctx.addIssue({ code: 'custom', path, message: 'is not a claim; name claims jwt:<claim>, e.g. jwt:sub or jwt:realm_access.roles' });
  }
};

const condition = z
  .record(z.string(), z.record(z.string(), conditionValues, { error: 'must map claims (jwt:<claim>) to lists of values' }), {
    error: 'must map operators to claims',
  })
  .superRefine((cond, ctx) => {
    const operators = Object.keys(cond);
    if (operators.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'names no operator; leave condition out to match every token' });
    }
    for (const operator of operators) {
      if (!(CONDITION_OPERATORS as readonly string[]).includes(operator)) {
        ctx.addIssue({ code: 'custom', path: [operator], message: `unknown operator; use one of ${CONDITION_OPERATORS.join(', ')}` });
        continue;
      }
      const claims = Object.keys(cond[operator]);
      if (claims.length === 0) ctx.addIssue({ code: 'custom', path: [operator], message: 'names no claim' });
      for (const claim of claims) claimName(ctx, claim, [operator, claim]);
    }
  })
  .transform((cond) => cond as Condition);

const principal = z
  .record(z.string(), conditionValues, { error: 'must map claims (jwt:sub) to lists of exact values' })
  .superRefine((p, ctx) => {
    const claims = Object.keys(p);
    if (claims.length === 0) ctx.addIssue({ code: 'custom', message: 'names no claim; leave principal out or give {"jwt:sub": [...]}' });
    for (const claim of claims) claimName(ctx, claim, [claim]);
  });

const resource = z.string({ error: 'must be a string: *, NAMESPACE:* or NAMESPACE:NAME' }).superRefine((v, ctx) => {
  if (v === '*') return;
  const colon = v.indexOf(':');
  const ns = colon === -1 ? '' : v.slice(0, colon);
  const name = colon === -1 ? '' : v.slice(colon + 1);
  if (NAMESPACE_NAME.test(ns) && (name === '*' || OBJECT_NAME.test(name))) return;
  ctx.addIssue({
    code: 'custom',
    message: `"${v}" is not a resource; use *, NAMESPACE:* or NAMESPACE:NAME with lowercase Kubernetes names`,
  });
});

const action = z.string({ error: 'must be a string' }).superRefine((v, ctx) => {
  if (!(STATEMENT_ACTIONS as readonly string[]).includes(v)) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not an action; use one of ${STATEMENT_ACTIONS.join(', ')}` });
  }
});

const algorithm = z.string({ error: 'must be a string' }).superRefine((v, ctx) => {
  if ((ISSUER_ALGORITHMS as readonly string[]).includes(v)) return;
  const never = /^hs\d+$/i.test(v) || v.toLowerCase() === 'none';
  ctx.addIssue({
    code: 'custom',
    message: never
      ? `"${v}" is never accepted (symmetric and unsigned tokens cannot prove who issued them)`
      : `"${v}" is not supported; use ${ISSUER_ALGORITHMS.join(', ')}`,
  });
});

const metadata = z.looseObject(
  { name: nonEmpty('give the object a name'), namespace: z.string().optional() },
  { error: (iss) => (iss.input === undefined ? 'is required' : 'must be a mapping') },
);

const kindField = <K extends string>(kind: K) => z.literal(kind);

const issuerObject = strict({
  apiVersion: z.literal(IAM_API_VERSION, { error: `must be ${IAM_API_VERSION}` }),
  kind: kindField('JwtIssuer'),
  metadata,
  spec: strict({
    iss: httpUrl('the issuer exactly as tokens carry it in "iss"', { bare: true }),
    aud: list(nonEmpty('an audience'), 'the audiences tokens may carry'),
    issInternal: httpUrl('where to fetch discovery instead of iss', { bare: true }).optional(),
    // OpenFaaS IAM's lifetime for tokens it exchanges; this gateway exchanges none, so it is accepted and unused.
    tokenExpiry: z
      .string({ error: 'must be a duration such as 12h' })
      .refine((v) => parseDuration(v) !== undefined, { error: 'must be a duration such as 12h' })
      .optional(),
    audienceClaims: list(
      z.enum(ISSUER_AUDIENCE_CLAIMS, { error: (iss) => `"${String(iss.input)}" is not supported; use ${ISSUER_AUDIENCE_CLAIMS.join(', ')}` }),
      `claims that may carry the audience: ${ISSUER_AUDIENCE_CLAIMS.join(', ')}`,
    ).optional(),
    jwksUrl: httpUrl('a JWKS to use instead of the discovered jwks_uri').optional(),
    algorithms: list(algorithm, `accepted signing algorithms: ${ISSUER_ALGORITHMS.join(', ')}`).optional(),
  }),
});

const roleObject = strict({
  apiVersion: z.enum([IAM_API_VERSION, LEGACY_ROLE_API_VERSION], {
    error: `must be ${IAM_API_VERSION} (or ${LEGACY_ROLE_API_VERSION})`,
  }),
  kind: kindField('Role'),
  metadata,
  spec: strict({
    policy: list(nonEmpty('a Policy name'), 'the Policies this Role grants'),
    principal: principal.optional(),
    condition: condition.optional(),
  }),
});

const statement = strict({
  sid: nonEmpty('name the statement'),
  action: list(action, 'e.g. ["Function:List"]'),
  effect: z.literal('Allow', { error: (iss) => (iss.input === undefined ? 'is required; use Allow' : 'must be Allow (the only effect)') }),
  resource: list(resource, 'e.g. ["dev:*"]'),
  condition: condition.optional(),
});

const policyObject = strict({
  apiVersion: z.literal(IAM_API_VERSION, { error: `must be ${IAM_API_VERSION}` }),
  kind: kindField('Policy'),
  metadata,
  spec: strict({ statement: list(statement, 'the statements of this Policy') }),
});

const accessObjects = z.array(
  z.discriminatedUnion('kind', [issuerObject, roleObject, policyObject], {
    error: (iss) => {
      if (iss.code === 'invalid_union') return `${iss.input === undefined ? 'is required' : 'unknown kind'}; use ${KINDS.join(', ')}`;
      if (iss.code === 'invalid_type') return 'must be an object with apiVersion, kind, metadata and spec';
      return undefined;
    },
  }),
);

type AccessObject = z.infer<typeof accessObjects>[number];

interface RawItems {
  readonly items: unknown[];
  /** How problems name an item without a usable name: "document 2" or "item 2". */
  readonly label: (index: number) => string;
}

/**
 * Parses an access file: multi-document YAML, or a JSON array, of OpenFaaS IAM objects. Throws
 * AccessFileError listing every problem, each naming the object, its field and what would be valid.
 */
export function parseAccessFile(text: string, source: string): AccessDocument {
  const content = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const raw = /^\s*\[/.test(content) ? readJson(content, source) : readYaml(content, source);
  if (raw.items.length === 0) {
    throw new AccessFileError(source, ['holds no objects; give JwtIssuer, Role and Policy objects of apiVersion iam.openfaas.com/v1']);
  }
  const problems: string[] = [];
  const parsed = accessObjects.safeParse(raw.items);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [index, ...field] = issue.path;
      const where = [objectLabel(raw, Number(index)), ...(field.length ? [formatPath(field)] : [])].join(': ');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push(`${objectLabel(raw, Number(index))}: ${formatPath([...field, key])}: ${issue.message}`);
      } else {
        problems.push(`${where}: ${issue.message}`);
      }
    }
  }
  problems.push(...crossObjectProblems(raw));
  if (problems.length || !parsed.success) throw new AccessFileError(source, problems);
  return toDocument(parsed.data);
}

/** Reads an access file's text; a file that cannot be read is an AccessFileError. */
export function readAccessFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new AccessFileError(path, [readProblem(err)]);
  }
}

/** Reads and parses an access file. */
export function loadAccessFile(path: string): AccessDocument {
  return parseAccessFile(readAccessFile(path), path);
}

/** Why a file could not be read, in words an operator can act on. */
export function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'does not exist; mount the access file there';
  if (code === 'EACCES') return 'cannot be read by this process';
  if (code === 'EISDIR') return 'is a folder, not a file';
  return `cannot be read: ${(err as Error).message}`;
}

function readYaml(content: string, source: string): RawItems {
  const lines = new LineCounter();
  const docs = parseAllDocuments(content, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (!Array.isArray(docs)) return { items: [], label: documentLabel };
  const problems: string[] = [];
  const items: unknown[] = [];
  const numbers: number[] = [];
  docs.forEach((doc, i) => {
    for (const error of doc.errors) {
      const at = lines.linePos(error.pos[0]);
      problems.push(`${documentLabel(i)}: line ${at.line}, column ${at.col}: ${error.message}`);
    }
    if (doc.errors.length) return;
    const item: unknown = doc.toJS({ maxAliasCount: 100 });
    if (item === null || item === undefined) return;
    items.push(item);
    numbers.push(i);
  });
  if (problems.length) throw new AccessFileError(source, problems);
  // Empty documents (a trailing ---) are skipped; problems still name the document as written.
  return { items, label: (index) => documentLabel(numbers[index]) };
}

function readJson(content: string, source: string): RawItems {
  let items: unknown;
  try {
    items = JSON.parse(content);
  } catch (err) {
    throw new AccessFileError(source, [`not valid JSON: ${jsonErrorWhere(content, (err as Error).message)}`]);
  }
  if (!Array.isArray(items)) throw new AccessFileError(source, ['must be a JSON array of objects']);
  // JSON.parse keeps the last of two equal keys without a word; a doubled field is refused instead.
  const lines = new LineCounter();
  const duplicates = parseDocument(content, { uniqueKeys: true, prettyErrors: false, lineCounter: lines }).errors.filter(
    (e) => e.code === 'DUPLICATE_KEY',
  );
  if (duplicates.length) {
    throw new AccessFileError(
      source,
      duplicates.map((e) => {
        const at = lines.linePos(e.pos[0]);
        return `line ${at.line}, column ${at.col}: a key appears twice in one object`;
      }),
    );
  }
  return { items, label: (index) => `item ${index + 1}` };
}

/** JSON.parse names a character position; an operator wants a line and column. */
function jsonErrorWhere(content: string, message: string): string {
  const position = /position (\d+)/.exec(message);
  if (!position) return message;
  const offset = Number(position[1]);
  const before = content.slice(0, offset);
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  return `${message.replace(/ in JSON at position \d+.*$/, '')} at line ${line}, column ${col}`;
}

function documentLabel(index: number): string {
  return `document ${index + 1}`;
}

function identity(item: unknown): { kind?: string; name?: string } {
  if (item === null || typeof item !== 'object') return {};
  const { kind, metadata: meta } = item as { kind?: unknown; metadata?: unknown };
  const name = meta !== null && typeof meta === 'object' ? (meta as { name?: unknown }).name : undefined;
  return {
    kind: typeof kind === 'string' && (KINDS as readonly string[]).includes(kind) ? kind : undefined,
    name: typeof name === 'string' && name ? name : undefined,
  };
}

function objectLabel(raw: RawItems, index: number): string {
  const { kind, name } = identity(raw.items[index]);
  if (kind && name) return `${kind} "${name}"`;
  if (kind) return `${kind} (${raw.label(index)})`;
  return raw.label(index);
}

function crossObjectProblems(raw: RawItems): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const policyNames = new Set<string>();
  raw.items.forEach((item, index) => {
    const { kind, name } = identity(item);
    if (!kind || !name) return;
    if (kind === 'Policy') policyNames.add(name);
    const key = `${kind}/${name}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else problems.push(`${kind} "${name}": metadata.name: is also the name of ${raw.label(first)}; names must be unique per kind`);
  });
  const issuerOf = new Map<string, string>();
  raw.items.forEach((item, index) => {
    const { kind, name } = identity(item);
    if (!kind || !name) return;
    const spec = (item as { spec?: unknown }).spec;
    if (spec === null || typeof spec !== 'object') return;
    if (kind === 'Role') {
      const policies = (spec as { policy?: unknown }).policy;
      if (!Array.isArray(policies)) return;
      policies.forEach((policy, i) => {
        if (typeof policy === 'string' && policy && !policyNames.has(policy)) {
          problems.push(`Role "${name}": spec.policy[${i}]: names Policy "${policy}", which the file does not define`);
        }
      });
    }
    if (kind === 'JwtIssuer') {
      const iss = (spec as { iss?: unknown }).iss;
      if (typeof iss !== 'string') return;
      const other = issuerOf.get(iss);
      if (other !== undefined && other !== name) {
        problems.push(`JwtIssuer "${name}": spec.iss: "${iss}" is also the iss of JwtIssuer "${other}" (${raw.label(index)})`);
      } else issuerOf.set(iss, name);
    }
  });
  return problems;
}

function toDocument(objects: AccessObject[]): AccessDocument {
  const issuers: IssuerSpec[] = [];
  const roles: RoleSpec[] = [];
  const policies: PolicySpec[] = [];
  for (const object of objects) {
    const name = object.metadata.name;
    switch (object.kind) {
      case 'JwtIssuer': {
        const { iss, aud, issInternal, jwksUrl, audienceClaims, algorithms } = object.spec;
        issuers.push(
          withoutUndefined({ name, iss, aud, issInternal, jwksUrl, audienceClaims, algorithms: algorithms as IssuerSpec['algorithms'] }),
        );
        break;
      }
      case 'Role': {
        const { policy, principal: who, condition: when } = object.spec;
        roles.push(withoutUndefined({ name, policies: policy, principal: who, condition: when }));
        break;
      }
      case 'Policy':
        policies.push({
          name,
          statements: object.spec.statement.map((s) =>
            withoutUndefined({ sid: s.sid, actions: s.action as StatementAction[], resources: s.resource, condition: s.condition }),
          ),
        });
        break;
    }
  }
  return { issuers, roles, policies };
}

function withoutUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}

const PLAIN_KEY = /^[A-Za-z_][\w-]*$/;

/** `spec.statement[0].condition.StringLike."jwt:realm_access.roles"` */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      const shown = PLAIN_KEY.test(key) || /^[\w-]+:[\w:*-]+$/.test(key) ? key : JSON.stringify(key);
      out += out ? `.${shown}` : shown;
    }
  }
  return out;
}
