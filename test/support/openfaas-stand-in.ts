import { randomUUID } from 'node:crypto';
import { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackServer, TlsIdentity, holdResponse, sendJson, sendText, splitTarget } from './loopback-server';
import { waitUntil } from './wait';

export const DEFAULT_NAMESPACE = 'openfaas-fn';

/** A request as the stand-in received it. */
export interface RecordedRequest {
  method: string;
  /** The request target exactly as received, query string included. */
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  /** The body bytes received so far (all of them once `complete`). */
  body: Buffer;
  /** The body has been fully received, or the connection closed. */
  complete: boolean;
  /** The connection closed before the body was fully received or before the response was fully sent. */
  aborted: boolean;
  receivedAt: number;
}

/** The OpenFaaS FunctionStatus as the stand-in reports it. */
export interface FunctionStatus {
  name: string;
  image: string;
  namespace: string;
  envProcess: string;
  envVars: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  secrets: string[];
  constraints: string[];
  replicas: number;
  availableReplicas: number;
  invocationCount: number;
  createdAt: string;
  usage?: { cpu: number; totalMemoryBytes: number };
}

export interface LogEntry {
  name: string;
  namespace: string;
  instance: string;
  timestamp: string;
  text: string;
}

export interface SeedFunction {
  name: string;
  image: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface OpenFaasStandInOptions {
  port?: number;
  /** Serve HTTPS with this certificate (see test/fixtures/tls). */
  tls?: TlsIdentity;
  user?: string;
  password?: string;
  /** Functions present at start; default `echo` and `nodeinfo` in openfaas-fn. */
  functions?: SeedFunction[];
  /** Namespaces besides openfaas-fn (and those of seeded functions) that accept deployments. */
  namespaces?: string[];
}

/** A raw handler installed with `override()`; it owns the response (or the socket) entirely. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse) => void;

const DEFAULT_FUNCTIONS: SeedFunction[] = [
  { name: 'echo', image: 'ghcr.io/openfaas/alpine:latest' },
  { name: 'nodeinfo', image: 'ghcr.io/openfaas/nodeinfo:latest' },
];

const SYSTEM_INFO = {
  provider: { provider: 'openfaas-stand-in', orchestration: 'in-memory', version: { sha: 'stand-in', release: '0.0.0-stand-in' } },
  version: { sha: 'stand-in', release: '0.0.0-stand-in', commit_message: 'in-memory OpenFaaS gateway for tests' },
  arch: 'x86_64',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

class Recording implements RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly receivedAt = Date.now();
  readonly chunks: Buffer[] = [];
  readonly done: Promise<void>;
  complete = false;
  aborted = false;
  private joined?: Buffer;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.method = req.method ?? '';
    this.url = req.url ?? '';
    this.headers = req.headers;
    this.rawHeaders = req.rawHeaders;
    req.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.joined = undefined;
    });
    this.done = new Promise((resolve) => {
      req.on('end', () => {
        this.complete = true;
        resolve();
      });
      req.on('close', () => {
        if (!this.complete) this.aborted = this.complete = true;
        resolve();
      });
    });
    res.on('close', () => {
      if (!res.writableFinished) this.aborted = true;
    });
  }

  get body(): Buffer {
    this.joined ??= Buffer.concat(this.chunks);
    return this.joined;
  }
}

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  record: Recording;
  query: URLSearchParams;
  params: string[];
}

type Route = [method: string, pattern: RegExp, handler: (x: Exchange) => void | Promise<void>];

interface StoredSecret {
  name: string;
  namespace: string;
  value: Buffer;
}

interface LogFollower {
  key: string;
  res: ServerResponse;
}

/**
 * An in-memory OpenFaaS gateway speaking the REST API that faas-cli and the federated gateway use,
 * recording every request it receives and offering switches for failure tests.
 */
export class OpenFaasStandIn {
  readonly requests: RecordedRequest[] = [];
  private user: string;
  private password: string;
  private healthy = true;
  private delay = { ms: 0, includeHealthz: false };
  private overrides: Array<{ method: string; pathPrefix: string; handler: RawHandler }> = [];
  private readonly namespaces: Set<string>;
  private readonly functions = new Map<string, FunctionStatus>();
  private readonly secrets = new Map<string, StoredSecret>();
  private readonly logs = new Map<string, LogEntry[]>();
  private readonly followers = new Set<LogFollower>();
  private server!: LoopbackServer;

  private readonly routes: Route[] = [
    ['GET', /^\/system\/info$/, (x) => sendJson(x.res, 200, SYSTEM_INFO)],
    ['GET', /^\/system\/functions$/, (x) => this.listFunctions(x)],
    ['POST', /^\/system\/functions$/, (x) => this.deployFunction(x, false)],
    ['PUT', /^\/system\/functions$/, (x) => this.deployFunction(x, true)],
    ['DELETE', /^\/system\/functions$/, (x) => this.deleteFunction(x)],
    ['GET', /^\/system\/function\/([^/]+)$/, (x) => this.describeFunction(x)],
    ['POST', /^\/system\/scale-function\/([^/]+)$/, (x) => this.scaleFunction(x)],
    ['GET', /^\/system\/secrets$/, (x) => this.listSecrets(x)],
    ['POST', /^\/system\/secrets$/, (x) => this.writeSecret(x, false)],
    ['PUT', /^\/system\/secrets$/, (x) => this.writeSecret(x, true)],
    ['DELETE', /^\/system\/secrets$/, (x) => this.deleteSecret(x)],
    ['GET', /^\/system\/namespaces$/, (x) => sendJson(x.res, 200, [...this.namespaces])],
    ['*', /^\/system\/namespace\//, (x) => sendText(x.res, 501, 'namespace management is not supported')],
    ['GET', /^\/system\/logs$/, (x) => this.streamLogs(x)],
  ];

  private constructor(opts: OpenFaasStandInOptions) {
    this.user = opts.user ?? 'admin';
    this.password = opts.password ?? 'stand-in-password';
    const seed = opts.functions ?? DEFAULT_FUNCTIONS;
    this.namespaces = new Set([DEFAULT_NAMESPACE, ...(opts.namespaces ?? []), ...seed.map((f) => f.namespace ?? DEFAULT_NAMESPACE)]);
    for (const f of seed) this.storeFunction(f.name, f.image, f.namespace ?? DEFAULT_NAMESPACE, { ...f });
  }

  static async start(opts: OpenFaasStandInOptions = {}): Promise<OpenFaasStandIn> {
    const standIn = new OpenFaasStandIn(opts);
    standIn.server = await LoopbackServer.start((req, res) => standIn.handle(req, res), opts.port, opts.tls);
    return standIn;
  }

  get url(): string {
    return this.server.url;
  }

  get port(): number {
    return this.server.port;
  }

  /** TLS handshakes completed so far (with `tls`): one per connection, however many requests it carries. */
  get tlsSessions(): number {
    return this.server.tlsSessions;
  }

  /** Number of `/system/logs?follow=true` responses currently open. */
  get activeLogStreams(): number {
    return this.followers.size;
  }

  setCredentials(user: string, password: string): void {
    this.user = user;
    this.password = password;
  }

  /** When false, `/healthz` answers 503. */
  setHealthy(healthy: boolean): void {
    this.healthy = healthy;
  }

  /** Holds every response (not overrides; `/healthz` only with includeHealthz) for `ms` before its headers. */
  setResponseDelay(ms: number, opts: { includeHealthz?: boolean } = {}): void {
    this.delay = { ms, includeHealthz: opts.includeHealthz ?? false };
  }

  /**
   * Routes requests whose method (or '*') and path prefix match to `handler`, ahead of everything else.
   * The request is still recorded. The latest matching override wins.
   */
  override(method: string, pathPrefix: string, handler: RawHandler): void {
    this.overrides.push({ method: method.toUpperCase(), pathPrefix, handler });
  }

  clearOverrides(): void {
    this.overrides = [];
  }

  openSockets(): number {
    return this.server.openSockets();
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  lastRequest(): RecordedRequest | undefined {
    return this.requests.at(-1);
  }

  /** Resolves with the recorded requests once at least `n` have arrived (body possibly still streaming). */
  async waitForRequests(n: number, timeoutMs = 5000): Promise<RecordedRequest[]> {
    await waitUntil(() => this.requests.length >= n, timeoutMs, {
      message: `expected ${n} request(s) at the OpenFaaS stand-in within ${timeoutMs}ms, got ${this.requests.length}`,
    });
    return [...this.requests];
  }

  /** A copy of a function's current status, or undefined. */
  functionStatus(name: string, namespace = DEFAULT_NAMESPACE): FunctionStatus | undefined {
    const status = this.functions.get(functionKey(name, namespace));
    return status && structuredClone(status);
  }

  /** A stored secret's value (never served over HTTP). */
  secretValue(name: string, namespace = DEFAULT_NAMESPACE): Buffer | undefined {
    return this.secrets.get(functionKey(name, namespace))?.value;
  }

  /** Appends a log line for a function and pushes it at once to every following log stream for it. */
  emitLog(functionName: string, text: string, opts: { namespace?: string; instance?: string } = {}): LogEntry {
    const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
    const entry: LogEntry = {
      name: functionName,
      namespace,
      instance: opts.instance ?? `${functionName}-5d4c8b7f9-x2k7q`,
      timestamp: new Date().toISOString(),
      text,
    };
    const key = functionKey(functionName, namespace);
    const stored = this.logs.get(key) ?? [];
    stored.push(entry);
    this.logs.set(key, stored);
    for (const follower of this.followers) {
      if (follower.key === key) follower.res.write(`${JSON.stringify(entry)}\n`);
    }
    return entry;
  }

  /** Ends every following log stream cleanly. */
  endLogs(): void {
    for (const follower of this.followers) follower.res.end();
    this.followers.clear();
  }

  close(): Promise<void> {
    this.followers.clear();
    return this.server.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record = new Recording(req, res);
    this.requests.push(record);
    const { pathname, query } = splitTarget(req.url);
    const override = this.findOverride(record.method, pathname);
    if (override) return override(req, res);

    const isHealthz = pathname === '/healthz';
    if (!isHealthz || this.delay.includeHealthz) {
      if (!(await holdResponse(res, this.delay.ms))) return;
    }
    const x: Exchange = { req, res, record, query, params: [] };
    try {
      if (isHealthz) return this.healthz(x);
      if (pathname.startsWith('/system/')) return await this.system(x, pathname);
      const invocation = /^\/(async-)?function\/([^/]+)/.exec(pathname);
      if (invocation) return await this.invoke(x, invocation[2] as string, invocation[1] !== undefined);
      sendText(res, 404, '404 page not found');
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      sendText(res, err.status, err.message);
    }
  }

  private findOverride(method: string, pathname: string): RawHandler | undefined {
    return this.overrides.findLast((o) => (o.method === '*' || o.method === method) && pathname.startsWith(o.pathPrefix))?.handler;
  }

  private healthz(x: Exchange): void {
    if (x.req.method !== 'GET' && x.req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    if (this.healthy) sendText(x.res, 200, 'OK');
    else sendText(x.res, 503, 'stand-in set unhealthy');
  }

  private async system(x: Exchange, pathname: string): Promise<void> {
    if (!this.authorized(x.req.headers.authorization)) {
      sendText(x.res, 401, 'invalid credentials', { 'WWW-Authenticate': 'Basic realm="Restricted"' });
      return;
    }
    const matching = this.routes.filter(([, pattern]) => pattern.test(pathname));
    const route = matching.find(([method]) => method === '*' || method === x.req.method);
    if (!route) throw new HttpError(matching.length ? 405 : 404, matching.length ? 'method not allowed' : '404 page not found');
    x.params = (route[1].exec(pathname) ?? []).slice(1).map(decodeParam);
    await route[2](x);
  }

  private authorized(header: string | undefined): boolean {
    const match = /^Basic (.+)$/i.exec(header ?? '');
    if (!match) return false;
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && decoded.slice(0, colon) === this.user && decoded.slice(colon + 1) === this.password;
  }

  private async invoke(x: Exchange, target: string, isAsync: boolean): Promise<void> {
    const dot = target.indexOf('.');
    const name = decodeParam(dot < 0 ? target : target.slice(0, dot));
    const namespace = dot < 0 ? DEFAULT_NAMESPACE : decodeParam(target.slice(dot + 1));
    if (isAsync) {
      await x.record.done;
      x.res.writeHead(202, { 'X-Call-Id': randomUUID(), 'Content-Length': 0 }).end();
      return;
    }
    const fn = this.functions.get(functionKey(name, namespace));
    if (!fn) throw new HttpError(404, `error finding function ${name}.${namespace}: not found`);
    fn.invocationCount++;
    this.echo(x);
  }

  /** Streams the request body back chunk by chunk as it arrives, honouring back-pressure. */
  private echo({ req, res, record }: Exchange): void {
    res.writeHead(200, {
      'Content-Type': req.headers['content-type'] ?? 'application/octet-stream',
      'X-Received-Authorization': req.headers.authorization === undefined ? 'absent' : 'present',
    });
    res.flushHeaders();
    for (const chunk of record.chunks) res.write(chunk);
    if (record.complete) {
      res.end();
      return;
    }
    req.on('data', (chunk: Buffer) => {
      if (!res.write(chunk)) {
        req.pause();
        res.once('drain', () => req.resume());
      }
    });
    req.on('end', () => res.end());
  }

  private listFunctions(x: Exchange): void {
    const namespace = this.namespace(x.query.get('namespace'));
    sendJson(x.res, 200, [...this.functions.values()].filter((f) => f.namespace === namespace));
  }

  private describeFunction(x: Exchange): void {
    const fn = this.requireFunction(x.params[0] as string, this.namespace(x.query.get('namespace')));
    const usage = x.query.get('usage') === '1' || x.query.get('usage') === 'true';
    sendJson(x.res, 200, usage ? { ...fn, usage: { cpu: 0.01, totalMemoryBytes: 6_291_456 } } : fn);
  }

  private async deployFunction(x: Exchange, update: boolean): Promise<void> {
    const spec = await jsonBody(x);
    if (typeof spec.service !== 'string' || !spec.service || typeof spec.image !== 'string' || !spec.image) {
      throw new HttpError(400, 'invalid deployment request: service and image are required');
    }
    const namespace = this.namespace(spec.namespace);
    if (update && !this.functions.has(functionKey(spec.service, namespace))) {
      throw new HttpError(404, `deployment not found: ${spec.service}.${namespace}`);
    }
    this.storeFunction(spec.service, spec.image, namespace, spec);
    x.res.writeHead(202, { 'Content-Length': 0 }).end();
  }

  private async deleteFunction(x: Exchange): Promise<void> {
    const body = await jsonBody(x);
    if (typeof body.functionName !== 'string' || !body.functionName) {
      throw new HttpError(400, 'invalid delete request: functionName is required');
    }
    const namespace = this.namespace(body.namespace);
    this.requireFunction(body.functionName, namespace);
    this.functions.delete(functionKey(body.functionName, namespace));
    this.logs.delete(functionKey(body.functionName, namespace));
    x.res.writeHead(202, { 'Content-Length': 0 }).end();
  }

  private async scaleFunction(x: Exchange): Promise<void> {
    const body = await jsonBody(x);
    const replicas = body.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new HttpError(400, 'invalid scale request: replicas must be a non-negative integer');
    }
    const fn = this.requireFunction(x.params[0] as string, this.namespace(body.namespace));
    fn.replicas = fn.availableReplicas = replicas;
    x.res.writeHead(202, { 'Content-Length': 0 }).end();
  }

  private listSecrets(x: Exchange): void {
    const namespace = this.namespace(x.query.get('namespace'));
    const list = [...this.secrets.values()].filter((s) => s.namespace === namespace).map(({ name }) => ({ name, namespace }));
    sendJson(x.res, 200, list);
  }

  private async writeSecret(x: Exchange, update: boolean): Promise<void> {
    const body = await jsonBody(x);
    const { name, value, rawValue } = body;
    if (typeof name !== 'string' || !name || (typeof value !== 'string' && typeof rawValue !== 'string')) {
      throw new HttpError(400, 'invalid secret: name and value or rawValue are required');
    }
    const namespace = this.namespace(body.namespace);
    const key = functionKey(name, namespace);
    if (update && !this.secrets.has(key)) throw new HttpError(404, `secret ${name} not found`);
    if (!update && this.secrets.has(key)) throw new HttpError(409, `secret ${name} already exists`);
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(rawValue as string, 'base64');
    this.secrets.set(key, { name, namespace, value: bytes });
    x.res.writeHead(update ? 200 : 201, { 'Content-Length': 0 }).end();
  }

  private async deleteSecret(x: Exchange): Promise<void> {
    const body = await jsonBody(x);
    if (typeof body.name !== 'string' || !body.name) throw new HttpError(400, 'invalid secret: name is required');
    const key = functionKey(body.name, this.namespace(body.namespace));
    if (!this.secrets.delete(key)) throw new HttpError(404, `secret ${body.name} not found`);
    x.res.writeHead(204).end();
  }

  private streamLogs({ res, query }: Exchange): void {
    const name = query.get('name');
    if (!name) throw new HttpError(400, 'name is required');
    const namespace = this.namespace(query.get('namespace'));
    const key = functionKey(name, namespace);
    this.requireFunction(name, namespace);

    let entries = this.logs.get(key) ?? [];
    const since = Date.parse(query.get('since') ?? '');
    if (!Number.isNaN(since)) entries = entries.filter((e) => Date.parse(e.timestamp) >= since);
    const tail = Number.parseInt(query.get('tail') ?? '', 10);
    if (tail > 0) entries = entries.slice(-tail);

    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    for (const entry of entries) res.write(`${JSON.stringify(entry)}\n`);
    if (query.get('follow') !== 'true' && query.get('follow') !== '1') {
      res.end();
      return;
    }
    const follower: LogFollower = { key, res };
    this.followers.add(follower);
    res.on('close', () => this.followers.delete(follower));
  }

  private namespace(value: unknown): string {
    const namespace = value === undefined || value === null || value === '' ? DEFAULT_NAMESPACE : value;
    if (typeof namespace !== 'string' || !this.namespaces.has(namespace)) {
      throw new HttpError(400, `namespace ${String(namespace)} is not allowed`);
    }
    return namespace;
  }

  private requireFunction(name: string, namespace: string): FunctionStatus {
    const fn = this.functions.get(functionKey(name, namespace));
    if (!fn) throw new HttpError(404, `function ${name} not found in namespace ${namespace}`);
    return fn;
  }

  /** Creates or replaces a function, keeping the replica count, invocation count and creation time of a replaced one. */
  private storeFunction(name: string, image: string, namespace: string, spec: Record<string, unknown>): void {
    const key = functionKey(name, namespace);
    const existing = this.functions.get(key);
    this.functions.set(key, {
      name,
      image,
      namespace,
      envProcess: stringOr(spec.envProcess, ''),
      envVars: objectOr(spec.envVars),
      labels: objectOr(spec.labels),
      annotations: objectOr(spec.annotations),
      secrets: Array.isArray(spec.secrets) ? spec.secrets.map(String) : [],
      constraints: Array.isArray(spec.constraints) ? spec.constraints.map(String) : [],
      replicas: existing?.replicas ?? 1,
      availableReplicas: existing?.availableReplicas ?? 1,
      invocationCount: existing?.invocationCount ?? 0,
      createdAt: existing?.createdAt ?? new Date().toISOString(),
    });
  }
}

function functionKey(name: string, namespace: string): string {
  return `${namespace}/${name}`;
}

function decodeParam(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new HttpError(400, `invalid path segment ${value}`);
  }
}

async function jsonBody(x: Exchange): Promise<Record<string, unknown>> {
  await x.record.done;
  try {
    const parsed: unknown = JSON.parse(x.record.body.toString('utf8'));
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HttpError(400, 'request body must be a JSON object');
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

function objectOr(value: unknown): Record<string, string> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Record<string, string>) } : {};
}
