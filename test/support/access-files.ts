import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { SigningKeysService } from '../../src/auth/signing-keys.service';
import { AccessService } from '../../src/access/access.service';
import { Harness, HarnessOptions } from '../e2e/harness';
import { HttpResponse, request } from './http-client';
import { RecordedRequest } from './openfaas-stand-in';

/**
 * Access files (OpenFaaS IAM objects) for the permission tests, written as an operator writes
 * them, and a harness gateway that reads one. Expected values in the specs come from the objects
 * built here, never from the gateway's own answers.
 */

export const IAM = 'iam.openfaas.com/v1';

/** Operator → claim (jwt:...) → accepted values, as the contract spells a condition. */
export type Condition = Record<string, Record<string, string[]>>;

export interface Statement {
  sid?: string;
  action: string[];
  resource: string[];
  condition?: Condition;
}

export type IamObject = Record<string, unknown>;

/** Every action the contract names, in the contract's words (not the gateway's list). */
export const CONTRACT_ACTIONS = [
  'Function:List',
  'Function:Get',
  'Function:Create',
  'Function:Update',
  'Function:Delete',
  'Function:Scale',
  'Function:Logs',
  'Function:Invoke',
  'Secret:List',
  'Secret:Create',
  'Secret:Update',
  'Secret:Delete',
  'Namespace:List',
  'Namespace:Get',
  'Namespace:Create',
  'Namespace:Update',
  'Namespace:Delete',
  'System:Info',
] as const;

export function jwtIssuer(name: string, spec: { iss: string; aud: string[] } & Record<string, unknown>): IamObject {
  return { apiVersion: IAM, kind: 'JwtIssuer', metadata: { name, namespace: 'openfaas' }, spec };
}

export function policy(name: string, statements: Statement[]): IamObject {
  return {
    apiVersion: IAM,
    kind: 'Policy',
    metadata: { name, namespace: 'openfaas' },
    spec: { statement: statements.map((s, i) => ({ sid: s.sid ?? `s${i}`, action: s.action, effect: 'Allow', resource: s.resource, ...(s.condition ? { condition: s.condition } : {}) })) },
  };
}

export function role(
  name: string,
  policies: string[],
  opts: { condition?: Condition; principal?: Record<string, string[]>; apiVersion?: string } = {},
): IamObject {
  const spec: Record<string, unknown> = { policy: policies };
  if (opts.principal) spec.principal = opts.principal;
  if (opts.condition) spec.condition = opts.condition;
  return { apiVersion: opts.apiVersion ?? IAM, kind: 'Role', metadata: { name, namespace: 'openfaas' }, spec };
}

/** A Role granting `statements` (through a Policy of the same name) to tokens meeting `condition`. */
export function grant(name: string, condition: Condition | undefined, statements: Statement[], extra: { principal?: Record<string, string[]> } = {}): IamObject[] {
  return [policy(name, statements), role(name, [name], { condition, principal: extra.principal })];
}

/** A condition on one word of the space-separated `scope` claim. */
export function scopeIs(scope: string): Condition {
  return { 'ForAnyValue:StringEqual': { 'jwt:scope': [scope] } };
}

/** Multi-document YAML, as a ConfigMap holds it. */
export function accessYaml(objects: readonly IamObject[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

/**
 * An access file in a temporary folder. Every new version replaces the file by a rename, as the
 * kubelet swaps a ConfigMap mount, so that a poll never reads a half-written version.
 */
export class AccessFile {
  private versions = 0;

  private constructor(
    readonly dir: string,
    readonly path: string,
  ) {}

  static create(content: string | readonly IamObject[]): AccessFile {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-access-'));
    const file = new AccessFile(dir, join(dir, 'access.yaml'));
    file.write(content);
    return file;
  }

  write(content: string | readonly IamObject[]): void {
    const text = typeof content === 'string' ? content : accessYaml(content);
    const next = join(this.dir, `.version-${++this.versions}`);
    writeFileSync(next, text);
    renameSync(next, this.path);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A harness gateway reading an access file. */
export interface AccessHarness {
  readonly h: Harness;
  readonly file: AccessFile;
  /** Re-reads the access file now instead of waiting for the poll. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the harness gateway with `access_file` set to a file holding `content`, and waits until
 * keys of every issuer are held (the harness itself waits for the first only).
 */
export async function startWithAccess(content: string | readonly IamObject[], options: HarnessOptions = {}): Promise<AccessHarness> {
  const file = AccessFile.create(content);
  let h: Harness;
  try {
    h = await Harness.start({ ...options, noWaitForKeys: true, env: { access_file: file.path, ...options.env } });
  } catch (err) {
    file.remove();
    throw err;
  }
  const access: AccessHarness = {
    h,
    file,
    reload: () => h.gateway.app.get(AccessService).reload(),
    async close() {
      await h.close();
      file.remove();
    },
  };
  if (!options.noWaitForKeys) {
    try {
      await h.gateway.app.get(SigningKeysService).start();
    } catch (err) {
      await access.close();
      throw err;
    }
  }
  return access;
}

/** What reached the OpenFaaS stand-in, apart from health probes. */
export function upstreamCalls(h: Harness): RecordedRequest[] {
  return h.openfaas.requests.filter((r) => r.url !== '/healthz');
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** The contract's 403: JSON {"error":"forbidden","error_description"} naming the action and the resource. */
export function assertForbidden(res: HttpResponse, action: string, resource: string): void {
  assert.equal(res.status, 403, `expected 403 for ${action} on ${resource}, got ${res.status} ${res.text}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as { error?: unknown; error_description?: unknown };
  assert.equal(body.error, 'forbidden', res.text);
  assert.equal(typeof body.error_description, 'string', res.text);
  const description = body.error_description as string;
  assert.ok(description.includes(action), `error_description does not name ${action}: ${description}`);
  assert.ok(description.includes(resource), `error_description does not name ${resource}: ${description}`);
}

/** A 400 with the gateway's JSON error. */
export function assertBadRequest(res: HttpResponse): void {
  assert.equal(res.status, 400, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as { error?: unknown; error_description?: unknown };
  assert.equal(typeof body.error, 'string', res.text);
  assert.equal(typeof body.error_description, 'string', res.text);
}

export interface GqlResult<T = any> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: { code?: string } & Record<string, unknown> }>;
  text: string;
}

/** POSTs a GraphQL operation with a bearer token. */
export async function gql<T = any>(h: Harness, token: string, query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>> {
  const res = await request(`${h.url}/graphql`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = res.json() as { data?: T | null; errors?: GqlResult['errors'] };
  return { status: res.status, data: body.data, errors: body.errors, text: res.text };
}

/** Prometheus text: the value of one sample (name and exact labels), 0 when absent. */
export async function metric(h: Harness, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await request(`http://127.0.0.1:${h.gateway.metricsPort}/metrics`);
  assert.equal(res.status, 200);
  return sampleValue(res.text, name, labels) ?? 0;
}

export function sampleValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1] as string] = pair[2] as string;
    if (Object.entries(labels).every(([k, v]) => found[k] === v) && Object.keys(found).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}
