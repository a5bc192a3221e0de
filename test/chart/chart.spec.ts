/**
 * The Helm chart in chart/: its values, its schema and what it renders.
 *
 * Values and schema checks run everywhere. Rendering needs `helm template` or the helm-render
 * stand-in: $HELM_RENDER, else `helm` on the PATH. Without either the chart cannot be rendered,
 * and then the rendering tests
 * - fail under CI=true with ../shared beside the checkout (the project's CI, whose .ci/run builds
 *   helm-render from ../shared/tools/helm-render/build.sh and sets HELM_RENDER);
 * - are skipped elsewhere, each one reported as skipped with the reason and how to render.
 * `helm lint` needs the real helm: without it on the PATH those tests are skipped with the reason.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import * as YAML from 'yaml';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { parseAccessFile } from '../../src/access/access-file';
import { BASIC_AUTH_PASSWORD_FILE, BASIC_AUTH_USER_FILE, loadConfig } from '../../src/config/gateway-config';

type Obj = Record<string, any>;

const repoRoot = findRepoRoot(__dirname);
const chartDir = path.join(repoRoot, 'chart');
const ciDir = path.join(chartDir, 'ci');
const ciFiles = fs
  .readdirSync(ciDir)
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();
const RELEASE = 'federated-gateway';
const NAMESPACE = 'openfaas';
const MINIMAL = path.join(ciDir, 'minimal-values.yaml');

/** The gateway's defaults from the contract: an unset chart value must render exactly these. */
const CONTRACT_DEFAULTS: Record<string, string> = {
  port: '8080',
  metrics_port: '8082',
  gateway_url: 'http://gateway.openfaas:8080',
  allow_invoke: 'false',
  secret_mount_path: '/var/secrets',
  algorithms: 'RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512',
  clock_skew: '30s',
  audience_claims: 'aud',
  jwks_refresh: '5m',
  jwks_cooldown: '30s',
  upstream_timeout: '60s',
  read_timeout: '65s',
  write_timeout: '65s',
  shutdown_timeout: '25s',
  token_cache_size: '10000',
  graphql_introspection: 'false',
  debug: 'false',
  log_encoding: 'console',
  default_namespace: 'openfaas-fn',
};

/** Values whose content is a Kubernetes object passed through as it is. */
const PASS_THROUGH = new Set([
  'imagePullSecrets',
  'extraEnv',
  'serviceAccount.annotations',
  'podAnnotations',
  'podLabels',
  'podSecurityContext',
  'securityContext',
  'readinessProbe',
  'livenessProbe',
  'resources',
  'nodeSelector',
  'tolerations',
  'affinity',
  'topologySpreadConstraints',
  'strategy',
  'service.annotations',
  'ingress.annotations',
  'ingress.hosts',
  'ingress.tls',
  'networkPolicy.ingressFrom',
  'networkPolicy.metricsFrom',
  'networkPolicy.egress.openfaas.to',
  'networkPolicy.egress.idp.to',
  'networkPolicy.egress.audit.to',
  'networkPolicy.egress.dns.to',
  'networkPolicy.extraEgress',
  'serviceMonitor.labels',
]);

// ---------------------------------------------------------------------------------------------
// helpers

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'chart', 'Chart.yaml')) && fs.existsSync(path.join(dir, 'package.json'))) {
      return dir;
    }
    if (path.dirname(dir) === dir) throw new Error(`no chart/Chart.yaml above ${from}`);
  }
}

function readYaml(file: string): any {
  return YAML.parse(fs.readFileSync(file, 'utf8'), { version: '1.1' });
}

function isPlainObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Helm's values coalescing: maps merge, everything else replaces, null deletes. */
function helmMerge(base: Obj, over: Obj): Obj {
  const out: Obj = structuredClone(base);
  for (const [k, v] of Object.entries(over ?? {})) {
    if (v === null) delete out[k];
    else if (isPlainObject(v) && isPlainObject(out[k])) out[k] = helmMerge(out[k], v);
    else out[k] = structuredClone(v);
  }
  return out;
}

/** Dotted paths of the leaves of a values tree (lists and empty maps are leaves). */
function leafPaths(v: unknown, prefix = ''): string[] {
  if (!isPlainObject(v) || Object.keys(v).length === 0) return [prefix];
  return Object.entries(v).flatMap(([k, child]) => leafPaths(child, prefix ? `${prefix}.${k}` : k));
}

/** Leaf paths that stop at pass-through values (their insides are Kubernetes' business). */
function valuePaths(v: unknown, prefix = ''): string[] {
  if (prefix && PASS_THROUGH.has(prefix)) return [prefix];
  if (!isPlainObject(v) || Object.keys(v).length === 0) return [prefix];
  return Object.entries(v).flatMap(([k, child]) => valuePaths(child, prefix ? `${prefix}.${k}` : k));
}

function hasPath(v: unknown, dotted: string): boolean {
  let cur: unknown = v;
  for (const seg of dotted.split('.')) {
    if (!isPlainObject(cur) || !(seg in cur)) return false;
    cur = cur[seg];
  }
  return true;
}

function templateFiles(): string[] {
  const dir = path.join(chartDir, 'templates');
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(ya?ml|tpl|txt)$/.test(f))
    .map((f) => path.join(dir, f));
}

/** Every `.Values.a.b` path the templates use, with `$x := .Values.a` aliases expanded. */
function templateValueRefs(): Map<string, string[]> {
  const refs = new Map<string, string[]>();
  for (const file of templateFiles()) {
    const text = fs.readFileSync(file, 'utf8');
    const aliases = new Map<string, string>();
    for (const m of text.matchAll(/\$(\w+)\s*:?=\s*\$?\.Values((?:\.\w+)+)/g)) aliases.set(m[1], m[2].slice(1));
    const add = (p: string) => refs.set(p, [...(refs.get(p) ?? []), path.basename(file)]);
    for (const m of text.matchAll(/(?<![\w)])\$?\.Values((?:\.\w+)+)/g)) add(m[1].slice(1));
    for (const m of text.matchAll(/\$(\w+)((?:\.\w+)+)/g)) {
      const base = aliases.get(m[1]);
      if (base) add(`${base}${m[2]}`);
    }
  }
  return refs;
}

// --- Kubernetes validation --------------------------------------------------------------------

type ModelCtor = new (data: any) => { validate(): void };
const MODELS: Record<string, ModelCtor> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function modelErrors(ctor: ModelCtor, obj: Obj): Array<{ instancePath: string; message?: string }> {
  try {
    new ctor(obj).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: Array<{ instancePath: string; message?: string }> }).errors;
    if (!errors) throw e;
    return errors;
  }
}

/**
 * Fields the Kubernetes schema does not know. The models accept unknown fields (the API server
 * drops them, so a misspelt securityContext field would silently do nothing); a field is known
 * when putting a value of no JSON type there makes validation complain at that very path.
 */
function unknownFields(ctor: ModelCtor, obj: Obj): string[] {
  const unknown: string[] = [];
  const walk = (node: unknown, ptr: string[]) => {
    if (Array.isArray(node)) node.forEach((child, i) => walk(child, [...ptr, String(i)]));
    if (!isPlainObject(node)) return;
    for (const key of Object.keys(node)) {
      const at = [...ptr, key];
      if (at.length === 1 && (key === 'apiVersion' || key === 'kind')) continue;
      const probe = structuredClone(obj);
      let parent: any = probe;
      for (const seg of ptr) parent = parent[seg];
      parent[key] = Symbol('probe');
      const pointer = '/' + at.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
      const flagged = modelErrors(ctor, probe).some(
        (e) => e.instancePath === pointer || e.instancePath.startsWith(pointer + '/'),
      );
      if (!flagged) unknown.push(pointer);
      else walk(node[key], at);
    }
  };
  walk(obj, []);
  return unknown;
}

/** The ServiceMonitor CRD's fields that this chart uses, closed so that a misspelling fails. */
const serviceMonitorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'ServiceMonitor' },
    metadata: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'namespace'],
      properties: {
        name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
        namespace: { type: 'string', minLength: 1 },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['selector', 'endpoints'],
      properties: {
        jobLabel: { type: 'string' },
        namespaceSelector: {
          type: 'object',
          additionalProperties: false,
          properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: { type: 'string' } } },
        },
        selector: {
          type: 'object',
          additionalProperties: false,
          properties: { matchLabels: { type: 'object', additionalProperties: { type: 'string' } } },
        },
        endpoints: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            properties: {
              port: { type: 'string' },
              path: { type: 'string', pattern: '^/' },
              scheme: { enum: ['http', 'https'] },
              interval: { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' },
              scrapeTimeout: { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' },
            },
          },
        },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: true });
const validateServiceMonitor = ajv.compile(serviceMonitorSchema);

function kubernetesProblems(doc: Obj): string[] {
  const key = `${doc.apiVersion}/${doc.kind}`;
  if (key === 'monitoring.coreos.com/v1/ServiceMonitor') {
    return validateServiceMonitor(doc) ? [] : ajv.errorsText(validateServiceMonitor.errors).split(', ');
  }
  const ctor = MODELS[key];
  if (!ctor) return [`${key} is not a kind this chart is expected to render`];
  const errors = modelErrors(ctor, doc).map((e) => `${e.instancePath} ${e.message}`);
  if (errors.length) return errors;
  return unknownFields(ctor, doc).map((p) => `${p} is not a field of ${doc.kind}`);
}

// --- rendering --------------------------------------------------------------------------------

interface Renderer {
  kind: 'helm' | 'helm-render';
  bin: string;
}

function runs(bin: string, args: string[]): boolean {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0;
}

const helmRenderBuild = path.resolve(repoRoot, '../shared/tools/helm-render/build.sh');

/** $HELM_RENDER, else helm on the PATH; or the reason there is none. */
function findRenderer(): Renderer | string {
  const fromEnv = process.env.HELM_RENDER;
  if (fromEnv) {
    const help = spawnSync(fromEnv, ['--help'], { encoding: 'utf8', timeout: 30_000 });
    if (help.error) return `HELM_RENDER=${fromEnv} does not run: ${help.error.message}`;
    return { kind: /helm-render/.test(help.stdout) ? 'helm-render' : 'helm', bin: fromEnv };
  }
  if (runs('helm', ['version', '--short'])) return { kind: 'helm', bin: 'helm' };
  const hint = fs.existsSync(helmRenderBuild) ? `; export HELM_RENDER="$(bash ${helmRenderBuild} | tail -n 1)" to render` : '';
  return `no HELM_RENDER and no helm on the PATH${hint}`;
}

const found = findRenderer();
const renderer: Renderer | undefined = typeof found === 'string' ? undefined : found;
const noRendererReason = typeof found === 'string' ? found : '';
/** The project's CI (CI=true, ../shared beside the checkout) must render the chart. */
const renderingRequired = /^(1|true|yes)$/i.test(process.env.CI ?? '') && fs.existsSync(path.dirname(path.dirname(helmRenderBuild)));
const helmOnPath = renderer?.kind === 'helm' || runs('helm', ['version', '--short']);
if (!renderer) {
  console.log(`chart rendering tests ${renderingRequired ? 'FAIL (CI=true with ../shared)' : 'skipped'}: ${noRendererReason}`);
}

/**
 * A rendering test: run when there is a renderer or one is required (then render() fails it with
 * the reason), else registered as skipped with the reason, so that the run's summary counts it.
 */
function renderIt(name: string, fn: () => void): void {
  it(name, renderer || renderingRequired ? {} : { skip: `no chart renderer: ${noRendererReason}` }, fn);
}

interface RenderOptions {
  files?: string[];
  set?: Record<string, string | number | boolean>;
  chart?: string;
  release?: string;
  namespace?: string;
  /** Further flags, e.g. --skip-schema-validation. */
  flags?: string[];
}

interface Rendered {
  status: number | null;
  stdout: string;
  stderr: string;
  docs: Obj[];
}

function render(opts: RenderOptions = {}): Rendered {
  if (!renderer) throw new Error(`no chart renderer, required under CI=true with ../shared: ${noRendererReason}`);
  const args = [opts.release ?? RELEASE, opts.chart ?? chartDir, '--namespace', opts.namespace ?? NAMESPACE];
  for (const f of opts.files ?? []) args.push('-f', f);
  for (const [k, v] of Object.entries(opts.set ?? {})) args.push('--set', `${k}=${v}`);
  args.push(...(opts.flags ?? []));
  const r = spawnSync(renderer.bin, renderer.kind === 'helm' ? ['template', ...args] : args, {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const docs: Obj[] = [];
  if (r.status === 0) {
    for (const d of YAML.parseAllDocuments(r.stdout, { version: '1.1', uniqueKeys: true })) {
      assert.deepEqual(d.errors.map(String), [], 'rendered YAML parses');
      const js = d.toJS();
      if (js !== null && js !== undefined) docs.push(js);
    }
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, docs };
}

function renderOk(opts: RenderOptions = {}): Obj[] {
  const r = render(opts);
  assert.equal(r.status, 0, `rendering failed: ${r.stderr}`);
  return r.docs;
}

function one(docs: Obj[], kind: string): Obj {
  const found = docs.filter((d) => d.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind} among ${docs.map((d) => d.kind).join(', ')}`);
  return found[0];
}

function container(docs: Obj[]): Obj {
  const containers = one(docs, 'Deployment').spec.template.spec.containers;
  assert.equal(containers.length, 1);
  return containers[0];
}

function envOf(docs: Obj[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container(docs).env) {
    assert.equal(env[e.name], undefined, `env ${e.name} set once`);
    env[e.name] = e.value;
  }
  return env;
}

function containerPort(c: Obj, port: string | number): number {
  if (typeof port === 'number') return port;
  const p = c.ports.find((x: Obj) => x.name === port);
  assert.ok(p, `container port named ${port}`);
  return p.containerPort;
}

function isSubset(small: Obj, big: Obj): boolean {
  return Object.entries(small).every(([k, v]) => big?.[k] === v);
}

/** The chart's NOTES.txt rendered with the given values (helm template never prints it). */
function renderNotes(opts: RenderOptions): string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-notes-'));
  try {
    const copy = path.join(tmp, 'chart');
    fs.cpSync(chartDir, copy, { recursive: true });
    fs.renameSync(path.join(copy, 'templates', 'NOTES.txt'), path.join(copy, 'notes-under-test.txt'));
    fs.writeFileSync(
      path.join(copy, 'templates', 'zz-notes-under-test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ tpl (.Files.Get "notes-under-test.txt") . | toJson }}\n',
    );
    const docs = renderOk({ ...opts, chart: copy });
    return docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'notes')!.data.notes;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// --- the access file ---------------------------------------------------------------------------

const ACCESS_DIR = '/var/run/gateway-access';

/** Every YAML document of a string, as the gateway reads it (YAML 1.2), empty ones skipped. */
function yamlDocuments(text: string): unknown[] {
  const out: unknown[] = [];
  for (const d of YAML.parseAllDocuments(text, { uniqueKeys: true })) {
    assert.deepEqual(d.errors.map(String), [], 'the access file parses as YAML');
    const js = d.toJS();
    if (js !== null && js !== undefined) out.push(js);
  }
  return out;
}

/** The objects that a values tree's access.rules gives (a list, or a YAML or JSON string). */
function accessObjects(v: Obj): unknown[] {
  const rules = v.access?.rules;
  if (Array.isArray(rules)) return rules;
  if (typeof rules !== 'string' || rules.trim() === '') return [];
  return /^\s*\[/.test(rules) ? JSON.parse(rules) : yamlDocuments(rules);
}

function accessIssuers(v: Obj): string[] {
  return accessObjects(v)
    .filter((o) => isPlainObject(o) && o.kind === 'JwtIssuer')
    .map((o) => (o as Obj).spec.iss);
}

function accessEnabled(v: Obj): boolean {
  return accessObjects(v).length > 0 || Boolean(v.access?.existingConfigMap);
}

let tempValuesDir: string | undefined;
let tempValuesCount = 0;

/** A values file of its own for one test; the folder of them is removed when the process exits. */
function tempValues(content: Obj): string {
  if (!tempValuesDir) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-values-'));
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    tempValuesDir = dir;
  }
  const file = path.join(tempValuesDir, `values-${++tempValuesCount}.yaml`);
  fs.writeFileSync(file, YAML.stringify(content));
  return file;
}

// ---------------------------------------------------------------------------------------------
// values, schema and templates: no renderer needed

const values = readYaml(path.join(chartDir, 'values.yaml'));
const schema = JSON.parse(fs.readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8'));
const validateValues: ValidateFunction = new Ajv({ allErrors: true, strict: true }).compile(schema);

function schemaErrors(v: unknown): string {
  return validateValues(v) ? '' : new Ajv().errorsText(validateValues.errors);
}

describe('chart values and schema', () => {
  it('values.yaml validates against values.schema.json', () => {
    assert.equal(schemaErrors(values), '');
  });

  for (const file of ciFiles) {
    it(`ci/${file} validates against the schema, alone and merged over values.yaml`, () => {
      const own = readYaml(path.join(ciDir, file));
      assert.ok(isPlainObject(own), 'a values file is a map');
      assert.equal(schemaErrors(own), '', 'alone');
      assert.equal(schemaErrors(helmMerge(values, own)), '', 'merged');
    });
  }

  it('rejects unknown keys, top-level and nested', () => {
    for (const bad of [
      { issuer: 'https://idp.example.com', unknownKey: true },
      { allowinvoke: true },
      { logs: { colour: true } },
      { graphql: { playground: true } },
      { audit: { webhook: { secret: 'x' } } },
      { networkPolicy: { egress: { kubeApi: {} } } },
      { serviceMonitor: { intervall: '30s' } },
      { securityContext: { readOnlyRootFileSystem: true } },
      { ingress: { hosts: [{ host: 'a.example.com', path: '/' }] } },
    ]) {
      assert.notEqual(schemaErrors(helmMerge(values, bad)), '', `${JSON.stringify(bad)} must be rejected`);
    }
  });

  it('rejects values of the wrong type or shape', () => {
    for (const bad of [
      { logs: { format: 'xml' } },
      { allowInvoke: 'yes' },
      { replicas: 1.5 },
      { upstreamTimeout: '1 minute' },
      { clockSkew: -1 },
      { algorithms: ['HS256'] },
      { algorithms: [] },
      { audience: [] },
      { issuer: 'keycloak.example.com/realms/openfaas' },
      { issuer: 'https://idp.example.com/realms/x?tenant=1' },
      { audienceClaims: ['sub'] },
      { upstreamTimeout: 0 },
      { readTimeout: '0s' },
      { gatewayURL: 'gateway.openfaas:8080' },
      { tokenCacheSize: '10k' },
      { imagePullPolicy: 'Sometimes' },
      { podDisruptionBudget: { maxUnavailable: 'half' } },
      { networkPolicy: { egress: { openfaas: { ports: [0] } } } },
      { access: { rules: 5 } },
      { access: { rules: { kind: 'Role' } } },
      { access: { rules: true } },
      { access: { existingConfigMap: 'Gateway_Access' } },
      { access: { existingConfigMap: 7 } },
      { access: { key: 'a/b' } },
      { access: { key: '' } },
      { access: { defaultNamespace: 'Team-A' } },
      { access: { defaultNamespace: '' } },
      { access: { rulez: '' } },
    ]) {
      assert.notEqual(schemaErrors(helmMerge(values, bad)), '', `${JSON.stringify(bad)} must be rejected`);
    }
  });

  it('takes access.rules or access.existingConfigMap, not both', () => {
    const rules = readYaml(path.join(ciDir, 'access-values.yaml')).access.rules;
    for (const good of [{ rules }, { existingConfigMap: 'gateway-access' }, { rules: '', existingConfigMap: 'gateway-access' }, { rules: [], existingConfigMap: 'cm' }]) {
      assert.equal(schemaErrors(helmMerge(values, { access: good })), '', JSON.stringify(good));
    }
    for (const bad of [{ rules, existingConfigMap: 'gateway-access' }, { rules: accessObjects(readYaml(path.join(ciDir, 'access-list-values.yaml'))), existingConfigMap: 'cm' }]) {
      assert.match(schemaErrors(helmMerge(values, { access: bad })), /access\/existingConfigMap must NOT have more than 0 characters/, 'both rejected');
    }
  });

  it('checks the objects of access.rules given as a list', () => {
    const listed = readYaml(path.join(ciDir, 'access-list-values.yaml')).access.rules as Obj[];
    const [issuer, , policy, role] = listed;
    const variant = (index: number, change: (o: Obj) => void) => {
      const objects = structuredClone(listed);
      change(objects[index]);
      return helmMerge(values, { access: { rules: objects } });
    };
    assert.equal(schemaErrors(helmMerge(values, { access: { rules: listed } })), '');
    assert.equal(issuer.kind, 'JwtIssuer');
    assert.equal(policy.kind, 'Policy');
    assert.equal(role.kind, 'Role');
    const bad: Array<[string, Obj]> = [
      ['an unknown kind', variant(0, (o) => (o.kind = 'ClusterRole'))],
      ['another apiVersion', variant(2, (o) => (o.apiVersion = 'iam.openfaas.com/v2'))],
      ['no metadata.name', variant(2, (o) => delete o.metadata.name)],
      ['an issuer that is no URL', variant(0, (o) => (o.spec.iss = 'keycloak.example.com'))],
      ['an issuer with a query', variant(0, (o) => (o.spec.iss = 'https://idp.example.com/?x=1'))],
      ['no audience', variant(0, (o) => (o.spec.aud = []))],
      ['an HS algorithm', variant(0, (o) => (o.spec.algorithms = ['HS256']))],
      ['an unknown issuer field', variant(0, (o) => (o.spec.audiences = ['x']))],
      ['effect Deny', variant(2, (o) => (o.spec.statement[0].effect = 'Deny'))],
      ['an unknown action', variant(2, (o) => (o.spec.statement[0].action = ['Function:Deploy']))],
      ['a resource that is no NAMESPACE:NAME', variant(2, (o) => (o.spec.statement[0].resource = ['Staging/*']))],
      ['a statement without sid', variant(2, (o) => delete o.spec.statement[0].sid)],
      ['an unknown operator', variant(3, (o) => (o.spec.condition = { StringNotEqual: { 'jwt:sub': ['x'] } }))],
      ['a claim without jwt:', variant(3, (o) => (o.spec.condition = { StringEqual: { sub: ['x'] } }))],
      ['a claim value that is no list', variant(3, (o) => (o.spec.condition = { StringEqual: { 'jwt:sub': 'x' } }))],
      ['a Role without policy', variant(3, (o) => delete o.spec.policy)],
      ['a misspelt Role field', variant(3, (o) => (o.spec.policies = o.spec.policy))],
    ];
    for (const [what, v] of bad) assert.notEqual(schemaErrors(v), '', `${what} must be rejected`);
  });

  it('accepts the forms operators use for durations, audiences and percentages', () => {
    for (const good of [
      { upstreamTimeout: 60, readTimeout: '1m05s', clockSkew: '500ms', jwksRefresh: '1h30m' },
      { clockSkew: 0, jwksCooldown: '0s', shutdownTimeout: '0' },
      { audience: 'a,b' },
      { audience: 'api://fed-gw, fed-gw-2' },
      { audience: ['a', 'b'] },
      { podDisruptionBudget: { maxUnavailable: '50%' } },
      { strategy: { type: 'Recreate' } },
    ]) {
      assert.equal(schemaErrors(helmMerge(values, good)), '', JSON.stringify(good));
    }
  });

  it('types every value and closes every object of its own', () => {
    const resolve = (s: Obj): Obj => (s.$ref ? resolve(schema.definitions[s.$ref.split('/').pop()]) : s);
    const problems: string[] = [];
    const check = (s: Obj, at: string) => {
      s = resolve(s);
      const branches = s.anyOf ?? s.oneOf;
      if (branches) return branches.forEach((b: Obj, i: number) => check(b, `${at}|${i}`));
      if (!s.type && s.const === undefined && !s.enum) problems.push(`${at} has no type`);
      if (s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object'))) {
        if (s.additionalProperties === undefined) problems.push(`${at} does not say whether it takes unknown keys`);
        else if (isPlainObject(s.additionalProperties)) check(s.additionalProperties, `${at}.*`);
        else if (s.additionalProperties === true && !/^(global|affinity\.\w+|extraEnv\[\]\.valueFrom)$/.test(at)) {
          problems.push(`${at} accepts unknown keys`);
        }
        for (const [k, child] of Object.entries(s.properties ?? {})) check(child as Obj, at ? `${at}.${k}` : k);
      }
      if (s.type === 'array') check(s.items ?? {}, `${at}[]`);
    };
    check(schema, '');
    assert.deepEqual(problems, []);
  });

  it('declares exactly the values that values.yaml has', () => {
    const resolve = (s: Obj): Obj => (s.$ref ? resolve(schema.definitions[s.$ref.split('/').pop()]) : s);
    const declared: string[] = [];
    const walk = (s: Obj, at: string) => {
      s = resolve(s);
      if (PASS_THROUGH.has(at) || s.additionalProperties !== false || !s.properties) return;
      for (const [k, child] of Object.entries(s.properties)) {
        const p = at ? `${at}.${k}` : k;
        declared.push(p);
        walk(child as Obj, p);
      }
    };
    walk(schema, '');
    const missing = declared.filter((p) => p !== 'global' && !hasPath(values, p));
    assert.deepEqual(missing, [], 'schema properties without a value in values.yaml');
  });

  it('keeps the original federated-gateway chart keys and defaults', () => {
    assert.equal(values.gatewayURL, 'http://gateway.openfaas:8080');
    assert.equal(values.replicas, 1);
    assert.equal(values.allowInvoke, false);
    assert.deepEqual(values.logs, { debug: false, format: 'console' });
    assert.deepEqual(values.resources.requests, { memory: '160Mi', cpu: '100m' });
    assert.deepEqual(values.nodeSelector, {});
    assert.deepEqual(values.tolerations, []);
    assert.deepEqual(values.affinity, {});
    for (const key of ['image', 'issuer', 'audience', 'nameOverride', 'fullnameOverride']) {
      assert.equal(typeof values[key], 'string', key);
    }
    assert.equal(values.basicAuthSecret, 'basic-auth');
  });

  it('defaults the image to the chart appVersion, which is the package version', () => {
    const chart = readYaml(path.join(chartDir, 'Chart.yaml'));
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    assert.equal(String(chart.appVersion), pkg.version);
    assert.ok(values.image.endsWith(`:${chart.appVersion}`), `${values.image} is tagged ${chart.appVersion}`);
    // No registry publishes this project's image: the default is the name of a local build
    // (docker build -t openfaas-federated-gateway:TAG .), never a registry namespace of others.
    assert.equal(values.image, `${pkg.name}:${chart.appVersion}`, 'the default image is the local build of this package');
    assert.doesNotMatch(values.image, /\//, 'the default image names no registry or namespace');
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'federated-gateway', 'the original chart name, so release resource names stay');
  });

  it('comments every value in values.yaml', () => {
    const lines = fs.readFileSync(path.join(chartDir, 'values.yaml'), 'utf8').split('\n');
    const uncommented: string[] = [];
    const stack: Array<{ indent: number; key: string }> = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)(- )?([\w.-]+):(\s|$)/.exec(line);
      if (!m) return;
      const indent = m[1].length + (m[2] ? 2 : 0);
      while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop();
      const dotted = [...stack.map((s) => s.key), m[3]].join('.');
      stack.push({ indent, key: m[3] });
      const insidePassThrough = [...PASS_THROUGH].some((p) => dotted.startsWith(`${p}.`));
      const above = lines[i - 1]?.trim() ?? '';
      if (!insidePassThrough && !above.startsWith('#') && !/\s#\s/.test(line)) uncommented.push(`${i + 1}: ${dotted}`);
    });
    assert.deepEqual(uncommented, []);
  });

  it('documents every value in chart/README.md', () => {
    const readme = fs.readFileSync(path.join(chartDir, 'README.md'), 'utf8');
    const undocumented = valuePaths(values).filter((p) => !readme.includes(`\`${p}\``));
    assert.deepEqual(undocumented, []);
  });

  it('uses in templates only values that values.yaml defines', () => {
    const refs = templateValueRefs();
    assert.ok(refs.size > 40, `found ${refs.size} value references`);
    const undefinedRefs = [...refs].filter(([p]) => !hasPath(values, p)).map(([p, files]) => `${p} (${files.join(', ')})`);
    assert.deepEqual(undefinedRefs, []);
  });

  it('uses every value that values.yaml defines', () => {
    const refs = [...templateValueRefs().keys()];
    const unused = leafPaths(values).filter((leaf) => !refs.some((r) => leaf === r || leaf.startsWith(`${r}.`)));
    assert.deepEqual(unused, []);
  });

  it('names a ci values file for each non-default combination', () => {
    const all = ciFiles.map((f) => readYaml(path.join(ciDir, f)));
    const some = (pred: (v: Obj) => boolean) => all.some((v) => pred(helmMerge(values, v)));
    assert.ok(some((v) => v.ingress.enabled), 'ingress');
    assert.ok(some((v) => v.autoscaling.enabled), 'autoscaling');
    assert.ok(some((v) => v.podDisruptionBudget.enabled && v.podDisruptionBudget.maxUnavailable !== ''), 'PDB maxUnavailable');
    assert.ok(some((v) => v.podDisruptionBudget.enabled && v.podDisruptionBudget.maxUnavailable === ''), 'PDB minAvailable');
    assert.ok(some((v) => v.networkPolicy.enabled && v.networkPolicy.egress.enabled), 'NetworkPolicy with egress');
    assert.ok(some((v) => v.networkPolicy.enabled && !v.networkPolicy.egress.enabled), 'NetworkPolicy ingress only');
    assert.ok(some((v) => v.serviceMonitor.enabled), 'ServiceMonitor');
    assert.ok(some((v) => Boolean(v.audit.webhook.url && v.audit.webhook.secretName)), 'audit webhook');
    assert.ok(some((v) => !v.serviceAccount.create), 'existing ServiceAccount');
    assert.ok(some((v) => v.podSecurityContext.runAsUser === undefined), 'assigned user IDs (OpenShift)');
    assert.ok(some((v) => Array.isArray(v.audience)), 'audience as a list');
    assert.ok(some((v) => v.jwksURL !== ''), 'jwksURL');
    assert.ok(some((v) => v.preStopSleepSeconds === 0), 'no preStop hook');
    assert.ok(some((v) => v.strategy.type === 'Recreate'), 'Recreate strategy');
    assert.ok(some((v) => typeof v.access.rules === 'string' && v.access.rules.trim() !== '' && v.issuer !== ''), 'access.rules as manifests, beside issuer');
    assert.ok(some((v) => Array.isArray(v.access.rules) && v.access.rules.length > 0 && v.issuer === ''), 'access.rules as a list, its JwtIssuers the only issuers');
    assert.ok(some((v) => v.access.existingConfigMap !== ''), 'access.existingConfigMap');
  });
});

// ---------------------------------------------------------------------------------------------
// rendered manifests

describe('chart rendering', () => {
  renderIt('has a renderer', () => {
    assert.ok(renderer, `no chart renderer: ${noRendererReason}`);
  });

  for (const file of ciFiles) {
    describe(`ci/${file}`, () => {
      const at = path.join(ciDir, file);

      renderIt('renders manifests that are valid Kubernetes objects with no unknown fields', () => {
        const docs = renderOk({ files: [at] });
        assert.ok(docs.length >= 2);
        const problems = docs.flatMap((d) => kubernetesProblems(d).map((p) => `${d.kind} ${d.metadata?.name}: ${p}`));
        assert.deepEqual(problems, []);
        const ids = docs.map((d) => `${d.kind}/${d.metadata.name}`);
        assert.equal(new Set(ids).size, ids.length, `unique resources: ${ids}`);
        for (const d of docs) {
          assert.match(d.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${d.kind} name`);
          assert.ok(d.metadata.name.length <= 63, `${d.kind} name length`);
          assert.ok(d.metadata.namespace, `${d.kind} has a namespace`);
          assert.equal(d.metadata.labels?.['app.kubernetes.io/instance'], RELEASE, `${d.kind} instance label`);
        }
      });

      renderIt('wires its resources together', () => {
        const docs = renderOk({ files: [at] });
        const deploy = one(docs, 'Deployment');
        const pod = deploy.spec.template;
        const c = container(docs);
        assert.ok(isSubset(deploy.spec.selector.matchLabels, pod.metadata.labels), 'Deployment selects its pods');
        const svc = one(docs, 'Service');
        assert.ok(isSubset(svc.spec.selector, pod.metadata.labels), 'Service selects the pods');
        assert.deepEqual(
          svc.spec.ports.map((p: Obj) => [p.name, containerPort(c, p.targetPort)]),
          [['http', 8080], ['metrics', 8082]],
        );
        const sa = docs.find((d) => d.kind === 'ServiceAccount');
        if (sa) assert.equal(pod.spec.serviceAccountName, sa.metadata.name);
        for (const ing of docs.filter((d) => d.kind === 'Ingress')) {
          for (const rule of ing.spec.rules) {
            for (const p of rule.http.paths) {
              assert.equal(p.backend.service.name, svc.metadata.name);
              assert.ok(svc.spec.ports.some((sp: Obj) => sp.name === p.backend.service.port.name), 'Ingress port');
            }
          }
        }
        for (const hpa of docs.filter((d) => d.kind === 'HorizontalPodAutoscaler')) {
          assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deploy.metadata.name });
          assert.equal(deploy.spec.replicas, undefined, 'replicas left to the HPA');
        }
        for (const d of docs.filter((x) => x.kind === 'PodDisruptionBudget' || x.kind === 'NetworkPolicy')) {
          const sel = d.kind === 'NetworkPolicy' ? d.spec.podSelector : d.spec.selector;
          assert.ok(isSubset(sel.matchLabels, pod.metadata.labels), `${d.kind} selects the pods`);
        }
        for (const sm of docs.filter((d) => d.kind === 'ServiceMonitor')) {
          assert.ok(isSubset(sm.spec.selector.matchLabels, svc.metadata.labels), 'ServiceMonitor selects the Service');
          assert.deepEqual(sm.spec.namespaceSelector.matchNames, [svc.metadata.namespace]);
          assert.ok(svc.spec.ports.some((p: Obj) => p.name === sm.spec.endpoints[0].port));
        }
      });

      renderIt('runs hardened, probed and with the credentials mounted read-only', () => {
        const docs = renderOk({ files: [at] });
        const podSpec = one(docs, 'Deployment').spec.template.spec;
        const c = container(docs);
        const sc = c.securityContext;
        assert.equal(sc.runAsNonRoot, true);
        assert.equal(sc.readOnlyRootFilesystem, true);
        assert.equal(sc.allowPrivilegeEscalation, false);
        assert.ok(sc.capabilities.drop.includes('ALL'));
        assert.equal((sc.seccompProfile ?? podSpec.securityContext.seccompProfile).type, 'RuntimeDefault');
        assert.equal(podSpec.automountServiceAccountToken, false);
        assert.equal(c.readinessProbe.httpGet.path, '/healthz');
        assert.equal(containerPort(c, c.readinessProbe.httpGet.port), 8080);
        assert.equal(c.livenessProbe.httpGet.path, '/livez');
        assert.equal(containerPort(c, c.livenessProbe.httpGet.port), 8082);
        const env = envOf(docs);
        const secretVolume = podSpec.volumes.find((v: Obj) => v.secret && c.volumeMounts.some((m: Obj) => m.name === v.name && m.mountPath === env.secret_mount_path));
        assert.ok(secretVolume, 'the basic-auth secret is mounted at secret_mount_path');
        assert.equal(env.secret_mount_path, '/var/secrets');
        for (const m of c.volumeMounts.filter((x: Obj) => {
          const v = podSpec.volumes.find((y: Obj) => y.name === x.name);
          return v.secret || v.configMap;
        })) {
          assert.equal(m.readOnly, true, `${m.mountPath} is read-only`);
          assert.equal(m.subPath, undefined, 'whole-secret and whole-ConfigMap mounts, so updates reach the pod');
        }
        const tmp = c.volumeMounts.find((m: Obj) => m.mountPath === '/tmp');
        assert.ok(podSpec.volumes.find((v: Obj) => v.name === tmp?.name)?.emptyDir, '/tmp is an emptyDir');
        assert.ok((env.issuer && env.audience) || env.access_file, 'issuer and audience are set, or an access file gives the issuers');
        assert.equal(Boolean(env.issuer), Boolean(env.audience), 'issuer and audience go together');
        const grace = podSpec.terminationGracePeriodSeconds;
        const preStop = Number(c.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
        assert.ok(grace > preStop + seconds(env.shutdown_timeout), `grace ${grace}s > ${preStop}s + ${env.shutdown_timeout}`);
      });

      renderIt('renders NOTES.txt with the token and faas-cli steps', () => {
        const notes = renderNotes({ files: [at] });
        const merged = helmMerge(values, readYaml(at));
        assert.match(notes, /grant_type=client_credentials/);
        assert.match(notes, /faas-cli list --gateway "\$OPENFAAS_URL" --token "\$TOKEN"/);
        const tokenIssuer: string = merged.issuer || (accessIssuers(merged)[0] ?? '');
        const discovery = tokenIssuer ? `${tokenIssuer.replace(/\/$/, '')}/.well-known/openid-configuration` : '"$ISSUER"/.well-known/openid-configuration';
        assert.ok(notes.includes(`curl -fsS ${discovery}`), `discovery URL ${discovery}`);
        assert.equal(/^Permissions: /m.test(notes), accessEnabled(merged), 'a word on permissions exactly with an access file');
        assert.doesNotMatch(notes, /<no value>|\{\{/);
        // A default (registry-less) image is a local build: the notes say how to push one.
        const localImage = !String(merged.image).includes('/');
        assert.equal(/names no registry/.test(notes), localImage, `a note on image ${merged.image} exactly when it names no registry`);
        if (localImage) assert.match(notes, /docker build -t REGISTRY\/openfaas-federated-gateway:TAG \. && docker push/);
      });

      it('passes helm lint', { skip: helmOnPath ? false : 'helm lint needs helm on the PATH (the helm-render stand-in only renders)' }, () => {
        const r = spawnSync('helm', ['lint', chartDir, '-f', at], { encoding: 'utf8', timeout: 60_000 });
        assert.equal(r.status, 0, r.stdout + r.stderr);
      });
    });
  }

  describe('defaults (ci/minimal-values.yaml)', () => {
    renderIt('renders a ServiceAccount, a Service and a Deployment, nothing optional', () => {
      const kinds = renderOk({ files: [MINIMAL] }).map((d) => d.kind).sort();
      assert.deepEqual(kinds, ['Deployment', 'Service', 'ServiceAccount']);
    });

    renderIt('passes the gateway exactly its own defaults plus issuer and audience', () => {
      assert.deepEqual(envOf(renderOk({ files: [MINIMAL] })), {
        ...CONTRACT_DEFAULTS,
        issuer: 'https://keycloak.example.com/realms/openfaas',
        audience: 'fed-gw.example.com',
      });
    });

    renderIt('keeps the original chart resource names, selector and Service port', () => {
      const docs = renderOk({ files: [MINIMAL] });
      const deploy = one(docs, 'Deployment');
      assert.equal(deploy.metadata.name, 'federated-gateway');
      assert.deepEqual(deploy.spec.selector.matchLabels, { app: 'federated-gateway', component: 'federated-gateway' });
      const svc = one(docs, 'Service');
      assert.equal(svc.metadata.name, 'federated-gateway');
      assert.equal(svc.spec.type, 'ClusterIP');
      assert.deepEqual(svc.spec.ports[0], { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' });
      assert.equal(container(docs).image, values.image);
      const other = renderOk({ files: [MINIMAL], release: 'edge' });
      assert.equal(one(other, 'Deployment').metadata.name, 'edge-federated-gateway');
      const named = renderOk({ files: [MINIMAL], set: { fullnameOverride: 'fgw' } });
      assert.equal(one(named, 'Service').metadata.name, 'fgw');
    });

    renderIt('runs as uid/gid 1000 with RuntimeDefault seccomp for the pod', () => {
      const podSpec = one(renderOk({ files: [MINIMAL] }), 'Deployment').spec.template.spec;
      assert.deepEqual(podSpec.securityContext, {
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        fsGroup: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      assert.equal(podSpec.containers[0].securityContext.privileged, false);
      assert.equal(podSpec.enableServiceLinks, false);
    });

    renderIt('mounts the configured basic-auth secret and no audit secret', () => {
      for (const [set, name] of [[{}, 'basic-auth'], [{ basicAuthSecret: 'openfaas-admin' }, 'openfaas-admin']] as const) {
        const docs = renderOk({ files: [MINIMAL], set });
        const podSpec = one(docs, 'Deployment').spec.template.spec;
        const secrets = podSpec.volumes.filter((v: Obj) => v.secret);
        assert.deepEqual(secrets.map((v: Obj) => v.secret.secretName), [name]);
        const mount = podSpec.containers[0].volumeMounts.find((m: Obj) => m.name === secrets[0].name);
        assert.deepEqual(mount, { name: secrets[0].name, mountPath: '/var/secrets', readOnly: true });
      }
    });
  });

  describe('value mapping', () => {
    renderIt('renders values to the gateway environment, numbers as whole seconds', () => {
      const env = envOf(renderOk({ files: [path.join(ciDir, 'full-values.yaml')] }));
      assert.equal(env.audience, 'https://fed-gw.example.com,fed-gw-2');
      assert.equal(env.algorithms, 'RS256,ES256');
      assert.equal(env.audience_claims, 'aud,azp');
      assert.equal(env.jwks_url, 'https://tenant.auth0.com/.well-known/jwks.json');
      assert.equal(env.read_timeout, '125');
      assert.equal(env.write_timeout, '2m05s');
      assert.equal(env.shutdown_timeout, '40s');
      assert.equal(env.token_cache_size, '1000000');
      assert.equal(env.graphql_introspection, 'true');
      assert.equal(env.allow_invoke, 'true');
      assert.equal(env.gateway_url, 'http://gateway.openfaas.svc.cluster.local:8080');
      assert.equal(env.NODE_OPTIONS, '--max-old-space-size=192', 'extraEnv');
    });

    renderIt('carries an original chart values file over unchanged', () => {
      const docs = renderOk({ files: [path.join(ciDir, 'upgrade-from-original-values.yaml')] });
      const env = envOf(docs);
      assert.equal(env.debug, 'true');
      assert.equal(env.log_encoding, 'json');
      assert.equal(env.allow_invoke, 'true');
      const deploy = one(docs, 'Deployment');
      assert.equal(deploy.spec.replicas, 2);
      assert.equal(container(docs).image, 'ghcr.io/openfaasltd/federated-gateway:0.2.2');
      assert.deepEqual(container(docs).resources.limits, { memory: '256Mi', cpu: '100m' });
      assert.deepEqual(deploy.spec.template.spec.nodeSelector, { 'kubernetes.io/os': 'linux' });
      assert.equal(deploy.spec.template.spec.tolerations[0].key, 'dedicated');
      assert.ok(deploy.spec.template.spec.affinity.nodeAffinity);
    });

    renderIt('mounts the audit webhook key read-only outside /var/secrets', () => {
      const docs = renderOk({ files: [path.join(ciDir, 'full-values.yaml')] });
      const env = envOf(docs);
      const podSpec = one(docs, 'Deployment').spec.template.spec;
      assert.equal(env.audit_webhook_url, 'https://audit.example.com:8443/events');
      assert.equal(env.audit_webhook_secret_file, '/var/secrets-audit/key');
      const volume = podSpec.volumes.find((v: Obj) => v.secret?.secretName === 'audit-hmac');
      const mount = podSpec.containers[0].volumeMounts.find((m: Obj) => m.name === volume.name);
      assert.deepEqual(mount, { name: volume.name, mountPath: '/var/secrets-audit', readOnly: true });
      assert.ok(!env.audit_webhook_secret_file.startsWith(`${env.secret_mount_path}/`));
      assert.deepEqual(one(docs, 'Deployment').spec.template.spec.volumes.find((v: Obj) => v.name === 'auth').secret, {
        secretName: 'openfaas-admin',
      });
    });

    renderIt("trusts a private CA for an HTTPS OpenFaaS gateway from a ConfigMap, read-only, through node's NODE_EXTRA_CA_CERTS", () => {
      const docs = renderOk({ files: [path.join(ciDir, 'full-values.yaml')] });
      const podSpec = one(docs, 'Deployment').spec.template.spec;
      assert.equal(envOf(docs).NODE_EXTRA_CA_CERTS, '/var/run/gateway-ca/ca.pem');
      const volume = podSpec.volumes.find((v: Obj) => v.configMap?.name === 'openfaas-ca');
      assert.ok(volume, 'a volume from the ConfigMap');
      const mount = podSpec.containers[0].volumeMounts.find((m: Obj) => m.name === volume.name);
      assert.deepEqual(mount, { name: volume.name, mountPath: '/var/run/gateway-ca', readOnly: true });
      // Not set: the image's public CAs only, and nothing mounted.
      const plain = renderOk({ files: [MINIMAL] });
      assert.equal(envOf(plain).NODE_EXTRA_CA_CERTS, undefined);
      assert.equal(one(plain, 'Deployment').spec.template.spec.volumes.some((v: Obj) => v.configMap), false);
    });

    renderIt('leaves replicas to the HorizontalPodAutoscaler when autoscaling', () => {
      const docs = renderOk({ files: [MINIMAL], set: { 'autoscaling.enabled': true, replicas: 4 } });
      assert.equal(one(docs, 'Deployment').spec.replicas, undefined);
      const hpa = one(docs, 'HorizontalPodAutoscaler');
      assert.equal(hpa.spec.minReplicas, 2);
      assert.deepEqual(hpa.spec.metrics.map((m: Obj) => m.resource.name), ['cpu']);
      assert.equal(one(renderOk({ files: [MINIMAL], set: { replicas: 4 } }), 'Deployment').spec.replicas, 4);
    });
  });

  describe('optional resources', () => {
    const toggles: Array<[string, string]> = [
      ['ingress.enabled', 'Ingress'],
      ['autoscaling.enabled', 'HorizontalPodAutoscaler'],
      ['podDisruptionBudget.enabled', 'PodDisruptionBudget'],
      ['networkPolicy.enabled', 'NetworkPolicy'],
      ['serviceMonitor.enabled', 'ServiceMonitor'],
    ];
    for (const [value, kind] of toggles) {
      renderIt(`renders a ${kind} only when ${value} is true`, () => {
        assert.equal(renderOk({ files: [MINIMAL] }).filter((d) => d.kind === kind).length, 0, 'off by default');
        const docs = renderOk({ files: [MINIMAL], set: { [value]: true } });
        const doc = one(docs, kind);
        assert.deepEqual(kubernetesProblems(doc), []);
      });
    }

    renderIt('renders no ServiceAccount when told to use an existing one', () => {
      const docs = renderOk({ files: [MINIMAL], set: { 'serviceAccount.create': false, 'serviceAccount.name': 'fgw' } });
      assert.equal(docs.filter((d) => d.kind === 'ServiceAccount').length, 0);
      assert.equal(one(docs, 'Deployment').spec.template.spec.serviceAccountName, 'fgw');
    });
  });

  describe('NetworkPolicy', () => {
    function policy(set: Record<string, string | number | boolean>, files = [MINIMAL]): Obj {
      return one(renderOk({ files, set: { 'networkPolicy.enabled': true, ...set } }), 'NetworkPolicy').spec;
    }
    const ports = (rule: Obj) => rule.ports.map((p: Obj) => `${p.port}/${p.protocol}`).sort();

    renderIt('admits ingress only to port 8080, from any source unless sources are configured', () => {
      const spec = policy({});
      assert.deepEqual(spec.policyTypes, ['Ingress', 'Egress']);
      assert.equal(spec.ingress.length, 1);
      assert.deepEqual(ports(spec.ingress[0]), ['8080/TCP']);
      assert.equal(spec.ingress[0].from, undefined);
      const full = one(renderOk({ files: [path.join(ciDir, 'full-values.yaml')] }), 'NetworkPolicy').spec;
      assert.deepEqual(full.ingress.map(ports), [['8080/TCP'], ['8082/TCP']]);
      assert.ok(full.ingress.every((r: Obj) => r.from.length > 0), 'both rules name their sources');
    });

    renderIt('lets out only the OpenFaaS gateway, the IdP and DNS', () => {
      const spec = policy({});
      assert.equal(spec.egress.length, 3);
      const [openfaas, idp, dns] = spec.egress;
      assert.deepEqual(ports(openfaas), ['8080/TCP']);
      assert.deepEqual(openfaas.to, [{ podSelector: { matchLabels: { app: 'gateway' } } }]);
      assert.deepEqual(ports(idp), ['443/TCP'], 'https issuer');
      assert.deepEqual(ports(dns), ['53/TCP', '53/UDP']);
      assert.equal(dns.to[0].podSelector.matchLabels['k8s-app'], 'kube-dns');
    });

    renderIt('derives the IdP and audit ports from their URLs', () => {
      const spec = policy({
        issuer: 'http://keycloak.keycloak:8080/realms/x',
        jwksURL: 'https://keys.example.com:8443/jwks',
        'audit.webhook.url': 'http://audit.example.com/events',
        'audit.webhook.secretName': 'audit-hmac',
      });
      assert.deepEqual(ports(spec.egress[1]), ['8080/TCP', '8443/TCP']);
      assert.deepEqual(ports(spec.egress[2]), ['80/TCP']);
      assert.equal(spec.egress.length, 4);
      assert.deepEqual(ports(policy({ 'networkPolicy.egress.idp.ports[0]': 9443 }).egress[1]), ['9443/TCP']);
    });

    renderIt('leaves egress alone when egress is disabled', () => {
      const spec = policy({ 'networkPolicy.egress.enabled': false });
      assert.deepEqual(spec.policyTypes, ['Ingress']);
      assert.equal(spec.egress, undefined);
    });
  });

  describe('access file (access.rules, access.existingConfigMap)', () => {
    const ACCESS = path.join(ciDir, 'access-values.yaml');
    const ACCESS_LIST = path.join(ciDir, 'access-list-values.yaml');
    const ACCESS_EXISTING = path.join(ciDir, 'access-existing-configmap-values.yaml');

    /** The access file as the pods see it: the ConfigMap's value at access_file, and its mount. */
    function mountedAccessFile(docs: Obj[]): { text: string; configMap: Obj; volume: Obj; mount: Obj; env: Record<string, string> } {
      const env = envOf(docs);
      const podSpec = one(docs, 'Deployment').spec.template.spec;
      const mount = podSpec.containers[0].volumeMounts.find((m: Obj) => m.mountPath === ACCESS_DIR);
      assert.ok(mount, `a mount at ${ACCESS_DIR}`);
      const volume = podSpec.volumes.find((v: Obj) => v.name === mount.name);
      assert.equal(path.posix.dirname(env.access_file), mount.mountPath, 'access_file lies in the mounted folder');
      const configMap = one(docs, 'ConfigMap');
      assert.equal(volume.configMap.name, configMap.metadata.name, 'the volume is the rendered ConfigMap');
      const text = configMap.data[path.posix.basename(env.access_file)];
      assert.equal(typeof text, 'string', 'access_file names a key of the ConfigMap');
      return { text, configMap, volume, mount, env };
    }

    for (const file of [ACCESS, ACCESS_LIST]) {
      renderIt(`ci/${path.basename(file)}: the ConfigMap holds exactly access.rules, which the gateway's own parser accepts`, () => {
        const docs = renderOk({ files: [file] });
        const { text, configMap } = mountedAccessFile(docs);
        assert.equal(configMap.metadata.name, 'federated-gateway-access');
        assert.deepEqual(Object.keys(configMap.data), ['access.yaml']);
        const merged = helmMerge(values, readYaml(file));
        assert.deepEqual(yamlDocuments(text), accessObjects(merged), 'the same objects as the values give');
        const parsed = parseAccessFile(text, 'rendered access.yaml');
        const kinds = accessObjects(merged).map((o) => (o as Obj).kind);
        assert.equal(parsed.issuers.length, kinds.filter((k) => k === 'JwtIssuer').length);
        assert.equal(parsed.roles.length, kinds.filter((k) => k === 'Role').length);
        assert.equal(parsed.policies.length, kinds.filter((k) => k === 'Policy').length);
      });
    }

    renderIt('ci/access-values.yaml has two issuers and three Roles with their Policies', () => {
      const docs = renderOk({ files: [ACCESS] });
      const env = envOf(docs);
      const parsed = parseAccessFile(mountedAccessFile(docs).text, 'rendered access.yaml');
      const issuers = [env.issuer, ...parsed.issuers.map((i) => i.iss)];
      assert.equal(new Set(issuers.filter(Boolean)).size, 2, `two issuers: ${issuers}`);
      assert.deepEqual(parsed.roles.map((r) => r.name).sort(), ['ci-invoker', 'dashboards', 'dev-deployers']);
      const policies = new Set(parsed.policies.map((p) => p.name));
      for (const role of parsed.roles) assert.ok(role.policies.every((p) => policies.has(p)), `${role.name}'s Policies are defined`);
      const actions = (policy: string) => parsed.policies.find((p) => p.name === policy)!.statements.flatMap((st) => st.actions);
      assert.ok(actions('read-only').every((a) => /:(List|Get|Logs|Info)$/.test(a)), 'dashboards only read');
      assert.deepEqual(parsed.policies.find((p) => p.name === 'invoke-resize-image')!.statements, [
        { sid: 'invoke', actions: ['Function:Invoke'], resources: ['openfaas-fn:resize-image'] },
      ]);
    });

    renderIt("starts the gateway's configuration from what the chart renders: the issuers of the environment and of the file", () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-access-'));
      try {
        fs.writeFileSync(path.join(dir, BASIC_AUTH_USER_FILE), 'admin');
        fs.writeFileSync(path.join(dir, BASIC_AUTH_PASSWORD_FILE), 'secret');
        for (const file of [ACCESS, ACCESS_LIST]) {
          const docs = renderOk({ files: [file] });
          const { text, env } = mountedAccessFile(docs);
          const accessFile = path.join(dir, path.basename(file));
          fs.writeFileSync(accessFile, text);
          // The pod's paths, moved to this machine: the secret folder and the mounted file.
          const config = loadConfig({ ...env, secret_mount_path: dir, access_file: accessFile });
          const merged = helmMerge(values, readYaml(file));
          const expected = [...(merged.issuer ? [merged.issuer] : []), ...accessIssuers(merged)];
          assert.deepEqual(config.issuers.map((i) => i.iss), expected, path.basename(file));
          assert.equal(config.defaultNamespace, merged.access.defaultNamespace);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    renderIt('mounts the ConfigMap read-only as a folder (no subPath) and points access_file at it', () => {
      for (const file of [ACCESS, ACCESS_LIST]) {
        const { mount, volume, env } = mountedAccessFile(renderOk({ files: [file] }));
        assert.deepEqual(mount, { name: volume.name, mountPath: ACCESS_DIR, readOnly: true });
        assert.deepEqual(volume, { name: volume.name, configMap: { name: 'federated-gateway-access' } }, 'the whole ConfigMap, no items');
        assert.equal(env.access_file, `${ACCESS_DIR}/access.yaml`);
        assert.equal(env.default_namespace, 'openfaas-fn');
      }
      const keyed = renderOk({ files: [ACCESS], set: { 'access.key': 'iam.yaml', fullnameOverride: 'fgw' } });
      const { configMap, env } = mountedAccessFile(keyed);
      assert.equal(configMap.metadata.name, 'fgw-access');
      assert.equal(env.access_file, `${ACCESS_DIR}/iam.yaml`);
    });

    renderIt('puts no checksum of the access file on the pods: the gateway reloads it live', () => {
      const plain = one(renderOk({ files: [MINIMAL] }), 'Deployment').spec.template.metadata;
      for (const file of [ACCESS, ACCESS_LIST]) {
        const pod = one(renderOk({ files: [file] }), 'Deployment').spec.template.metadata;
        assert.deepEqual(pod.annotations, plain.annotations, 'the same pod annotations as without an access file');
        const other = helmMerge(readYaml(file), { access: { rules: accessObjects(readYaml(file)).slice().reverse() } });
        const changed = one(renderOk({ files: [tempValues(other)] }), 'Deployment').spec.template;
        assert.deepEqual(changed, one(renderOk({ files: [file] }), 'Deployment').spec.template, 'changed rules leave the pod template alone');
      }
    });

    renderIt('renders the same objects from a list, a multi-document YAML string and a JSON array string', () => {
      const objects = accessObjects(readYaml(ACCESS_LIST));
      const base = readYaml(ACCESS_LIST);
      const forms: Record<string, unknown> = {
        list: objects,
        yaml: objects.map((o) => YAML.stringify(o)).join('---\n'),
        'yaml with comments and a leading ---': `# the vendor's manifests\n---\n${objects.map((o) => YAML.stringify(o)).join('---\n# next\n')}---\n`,
        json: JSON.stringify(objects, null, 2),
      };
      for (const [form, rules] of Object.entries(forms)) {
        const docs = renderOk({ files: [tempValues(helmMerge(base, { access: { rules } }))] });
        const { text } = mountedAccessFile(docs);
        const parsed = parseAccessFile(text, `${form} form`);
        assert.deepEqual(parsed, parseAccessFile(JSON.stringify(objects), 'the objects'), `${form}: what the gateway reads`);
        if (typeof rules === 'string') assert.equal(text, rules, `${form}: passed through byte for byte`);
        // The JwtIssuers are found in every form: the NetworkPolicy lets out to their ports.
        const idp = one(docs, 'NetworkPolicy').spec.egress[1].ports.map((p: Obj) => p.port);
        assert.deepEqual(idp, [443, 8080], `${form}: IdP ports`);
      }
    });

    renderIt('with JwtIssuers only, leaves issuer and audience out and takes the IdP ports from them', () => {
      const docs = renderOk({ files: [ACCESS_LIST] });
      const env = envOf(docs);
      assert.equal(env.issuer, undefined);
      assert.equal(env.audience, undefined);
      const { networkPolicy } = { networkPolicy: one(docs, 'NetworkPolicy').spec };
      assert.deepEqual(networkPolicy.egress[1].ports, [
        { port: 443, protocol: 'TCP' },
        { port: 8080, protocol: 'TCP' },
      ]);
      const withIssuer = renderOk({ files: [ACCESS], set: { 'networkPolicy.enabled': true, issuer: 'https://idp.example.com:8443/realms/x' } });
      assert.deepEqual(one(withIssuer, 'NetworkPolicy').spec.egress[1].ports.map((p: Obj) => p.port), [8443, 443], 'issuer and the JwtIssuer');
    });

    renderIt('mounts an existing ConfigMap by name and key, and renders none', () => {
      const docs = renderOk({ files: [ACCESS_EXISTING] });
      assert.equal(docs.filter((d) => d.kind === 'ConfigMap').length, 0);
      const env = envOf(docs);
      const podSpec = one(docs, 'Deployment').spec.template.spec;
      const mount = podSpec.containers[0].volumeMounts.find((m: Obj) => m.mountPath === ACCESS_DIR);
      const volume = podSpec.volumes.find((v: Obj) => v.name === mount.name);
      assert.deepEqual(volume.configMap, { name: 'openfaas-gateway-access' });
      assert.deepEqual(mount, { name: volume.name, mountPath: ACCESS_DIR, readOnly: true });
      assert.equal(env.access_file, `${ACCESS_DIR}/iam.yaml`);
      assert.equal(env.default_namespace, 'team-a');
      assert.equal(env.issuer, 'https://keycloak.example.com/realms/openfaas');
      // Without issuer too: the ConfigMap's JwtIssuers are then the only issuers.
      const alone = envOf(renderOk({ set: { 'access.existingConfigMap': 'gateway-access' } }));
      assert.equal(alone.access_file, `${ACCESS_DIR}/access.yaml`);
      assert.equal(alone.issuer, undefined);
    });

    renderIt('keeps a long release name within 63 characters', () => {
      const long = 'a'.repeat(63);
      const docs = renderOk({ files: [ACCESS], set: { fullnameOverride: long } });
      const { configMap } = mountedAccessFile(docs);
      assert.ok(configMap.metadata.name.length <= 63, configMap.metadata.name);
      assert.match(configMap.metadata.name, /-access$/);
    });

    renderIt('without an access file: no ConfigMap, no access_file, no access volume', () => {
      const docs = renderOk({ files: [MINIMAL] });
      assert.equal(docs.filter((d) => d.kind === 'ConfigMap').length, 0);
      assert.equal(envOf(docs).access_file, undefined);
      assert.equal(one(docs, 'Deployment').spec.template.spec.volumes.some((v: Obj) => v.configMap), false);
      for (const rules of ['', '  \n']) {
        const docs = renderOk({ files: [MINIMAL, tempValues({ access: { rules } })] });
        assert.equal(envOf(docs).access_file, undefined, JSON.stringify(rules));
        assert.equal(docs.filter((d) => d.kind === 'ConfigMap').length, 0, JSON.stringify(rules));
      }
    });
  });

  describe('refuses bad configuration with a reason', () => {
    const fails = (opts: RenderOptions, reason: RegExp) => {
      const r = render(opts);
      assert.notEqual(r.status, 0, `rendering must fail; it printed ${r.stdout.slice(0, 200)}`);
      assert.match(r.stderr, reason);
    };

    renderIt('a missing issuer', () => fails({ set: { audience: 'fed-gw' } }, /issuer is required/));
    renderIt('a missing audience', () => fails({ set: { issuer: 'https://idp.example.com' } }, /audience is required/));
    renderIt('an unknown value', () => fails({ files: [MINIMAL], set: { allowinvoke: true } }, /allowinvoke/));
    renderIt('a log format the gateway does not know', () => fails({ files: [MINIMAL], set: { 'logs.format': 'xml' } }, /format/));
    renderIt('a malformed duration', () => fails({ files: [MINIMAL], set: { upstreamTimeout: 'soon' } }, /upstreamTimeout/));
    renderIt('a grace period the drain does not fit in', () => {
      fails({ files: [MINIMAL], set: { shutdownTimeout: '1m' } }, /terminationGracePeriodSeconds \(30\) must exceed/);
      fails({ files: [MINIMAL], set: { shutdownTimeout: 27 } }, /terminationGracePeriodSeconds/);
      renderOk({ files: [MINIMAL], set: { shutdownTimeout: '1m', terminationGracePeriodSeconds: 64 } });
      renderOk({ files: [MINIMAL], set: { shutdownTimeout: '26500ms' } });
    });
    renderIt('an audit key without an audit URL, or an audit URL without a key', () => {
      fails({ files: [MINIMAL], set: { 'audit.webhook.secretName': 'hmac' } }, /audit\.webhook\.url/);
      fails({ files: [MINIMAL], set: { 'audit.webhook.url': 'https://audit.example.com/x' } }, /audit\.webhook\.secretName/);
    });
    renderIt('a scrape timeout above the interval', () =>
      fails({ files: [MINIMAL], set: { 'serviceMonitor.enabled': true, 'serviceMonitor.scrapeTimeout': '1m' } }, /scrapeTimeout/));
    renderIt('access.rules and access.existingConfigMap together', () => {
      const both = { files: [path.join(ciDir, 'access-values.yaml')], set: { 'access.existingConfigMap': 'gateway-access' } };
      fails(both, /access\.existingConfigMap/);
      // Past the schema (helm --skip-schema-validation), the templates say what to do.
      fails({ ...both, flags: ['--skip-schema-validation'] }, /access\.rules and access\.existingConfigMap are both set: give the access file one way/);
    });
    renderIt('no issuer and no access file', () => {
      fails({}, /issuer is required: .*or give an access file whose JwtIssuers are the issuers \(access\.rules or access\.existingConfigMap\)/);
      fails({ files: [tempValues({ access: { rules: ' \n', existingConfigMap: '' } })] }, /issuer is required/);
    });
    renderIt('with an access file, issuer without audience or audience without issuer', () => {
      const access = path.join(ciDir, 'access-list-values.yaml');
      fails({ files: [access], set: { issuer: 'https://idp.example.com' } }, /audience is required with issuer/);
      fails({ files: [access], set: { audience: 'fed-gw' } }, /issuer is required with audience/);
      fails({ set: { 'access.existingConfigMap': 'cm', audience: 'fed-gw' } }, /issuer is required with audience/);
    });
    renderIt('access.rules without a JwtIssuer and no issuer', () => {
      const rules = readYaml(path.join(ciDir, 'access-values.yaml')).access.rules.split(/^---$/m).slice(1).join('---');
      fails({ files: [tempValues({ access: { rules } })] }, /access\.rules holds no JwtIssuer and issuer is unset/);
      renderOk({ files: [tempValues({ issuer: 'https://idp.example.com', audience: 'fed-gw', access: { rules } })] });
    });
    renderIt('access.rules that is no YAML mapping', () => {
      fails({ files: [tempValues({ access: { rules: 'kind: JwtIssuer\n---\n- a list\n' } })] }, /access\.rules: document 2 is not a YAML mapping/);
      fails({ files: [tempValues({ access: { rules: '[1, 2]' } })] }, /access\.rules is not a JSON array of objects/);
    });
    renderIt('a NetworkPolicy with an existing access ConfigMap, no issuer and no IdP ports', () => {
      fails({ set: { 'access.existingConfigMap': 'cm', 'networkPolicy.enabled': true } }, /networkPolicy\.egress\.idp\.ports is required/);
      const spec = one(renderOk({ set: { 'access.existingConfigMap': 'cm', 'networkPolicy.enabled': true, 'networkPolicy.egress.idp.ports[0]': 443 } }), 'NetworkPolicy').spec;
      assert.deepEqual(spec.egress[1].ports, [{ port: 443, protocol: 'TCP' }]);
    });
    renderIt('autoscaling bounds the wrong way round', () =>
      fails({ files: [MINIMAL], set: { 'autoscaling.enabled': true, 'autoscaling.maxReplicas': 1 } }, /maxReplicas/));
  });
});

/** Seconds in a gateway duration: whole seconds or Go-style (1m05s, 500ms). */
function seconds(d: string): number {
  if (/^\d+$/.test(d)) return Number(d);
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 };
  let total = 0;
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * units[m[2]];
  return total;
}
