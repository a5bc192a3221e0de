import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { IncomingMessage, request as httpRequest, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway';
import { LoopbackServer, readBody } from '../support/loopback-server';
import { OpenFaasStandIn, SeedFunction } from '../support/openfaas-stand-in';

/** The built CLI, as `npm test` compiles it (rootDir `.`, so build/src/cli/main.js). */
export const FEDGW = resolve(__dirname, '../../src/cli/main.js');
export const AUDIENCE = 'openfaas-gateway';
const ADMIN_USER = 'admin';
const ADMIN_PASSWORD = 'fleet-admin-password-7d2e';

/** A request as it reached the identity provider through the front. */
export interface IdpRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  form: URLSearchParams;
}

/**
 * A recording front for a real identity provider: forwards every request to it, records what
 * arrived, and rewrites discovery so that the token endpoint is reached through the front too.
 * `/custom/token` is a second spelling of the token endpoint, known only to whoever configures it.
 */
export class IdpFront {
  readonly requests: IdpRequest[] = [];

  private constructor(
    private readonly server: LoopbackServer,
    readonly upstream: string,
  ) {}

  static async start(upstream: string): Promise<IdpFront> {
    let front: IdpFront | undefined;
    const server = await LoopbackServer.start((req, res) => (front as IdpFront).handle(req, res));
    front = new IdpFront(server, upstream);
    return front;
  }

  get url(): string {
    return this.server.url;
  }

  tokenRequests(): IdpRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && /token$/.test(r.path));
  }

  discoveryRequests(): IdpRequest[] {
    return this.requests.filter((r) => r.path === '/.well-known/openid-configuration');
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = req.url ?? '/';
    this.requests.push({ method: req.method ?? 'GET', path, headers: req.headers, form: new URLSearchParams(body.toString('utf8')) });
    const target = path === '/custom/token' ? '/token' : path;
    const headers = { ...req.headers, host: new URL(this.upstream).host, 'content-length': String(body.length) };
    const upstreamRes = await new Promise<IncomingMessage>((done, fail) => {
      const out = httpRequest(`${this.upstream}${target}`, { method: req.method, headers, agent: false }, done);
      out.on('error', fail);
      out.end(body);
    });
    let answer = await readBody(upstreamRes);
    if (path === '/.well-known/openid-configuration' && upstreamRes.statusCode === 200) {
      const doc = JSON.parse(answer.toString('utf8')) as Record<string, unknown>;
      answer = Buffer.from(JSON.stringify({ ...doc, token_endpoint: `${this.url}/token` }));
    }
    res.writeHead(upstreamRes.statusCode ?? 502, { 'content-type': upstreamRes.headers['content-type'] ?? 'application/json', 'content-length': answer.length });
    res.end(answer);
  }
}

/** A real gateway (startGateway, as main.ts starts it) in front of its own OpenFaaS stand-in. */
export class FleetGateway {
  private constructor(
    readonly gateway: RunningGateway,
    readonly openfaas: OpenFaasStandIn,
    private readonly secretsDir: string,
  ) {}

  static async start(issuer: string, functions: SeedFunction[]): Promise<FleetGateway> {
    const openfaas = await OpenFaasStandIn.start({ user: ADMIN_USER, password: ADMIN_PASSWORD, functions });
    const secretsDir = mkdtempSync(join(tmpdir(), 'fedgw-gateway-'));
    writeFileSync(join(secretsDir, 'basic-auth-user'), ADMIN_USER);
    writeFileSync(join(secretsDir, 'basic-auth-password'), ADMIN_PASSWORD);
    const config = loadConfig({
      port: '0',
      metrics_port: '0',
      issuer,
      audience: AUDIENCE,
      gateway_url: openfaas.url,
      secret_mount_path: secretsDir,
      shutdown_timeout: '1s',
    });
    const gateway = await startGateway(config, { host: '127.0.0.1', silent: !process.env.GATEWAY_TEST_LOGS });
    return new FleetGateway(gateway, openfaas, secretsDir);
  }

  get url(): string {
    return `http://127.0.0.1:${this.gateway.port}`;
  }

  /** What the OpenFaaS stand-in itself reports at `path` (admin credentials), the expected values' source. */
  async upstream<T>(path: string): Promise<T> {
    const res = await fetch(`${this.openfaas.url}${path}`, {
      headers: { authorization: `Basic ${Buffer.from(`${ADMIN_USER}:${ADMIN_PASSWORD}`).toString('base64')}` },
    });
    return (await res.json()) as T;
  }

  async close(): Promise<void> {
    await this.gateway.close();
    await this.openfaas.close();
    rmSync(this.secretsDir, { recursive: true, force: true });
  }
}

export interface FedgwRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Every output of every run, for the check that no secret ever appears. */
export const allOutputs: string[] = [];

/** Runs the built CLI as a child process (async: the servers it talks to live in this process). */
export function runFedgw(args: string[], env: NodeJS.ProcessEnv, opts: { onSpawn?: (pid: number) => void } = {}): Promise<FedgwRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [FEDGW, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', fail);
    child.once('spawn', () => opts.onSpawn?.(child.pid as number));
    child.once('close', (code, signal) => {
      allOutputs.push(stdout, stderr);
      done({ code, signal, stdout, stderr });
    });
  });
}

/** Temporary folders removed together. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes a fedgw configuration file and returns its path. */
export function writeConfig(dir: string, config: { defaults?: Record<string, unknown>; clusters: Record<string, Record<string, unknown>> }, name = 'clusters.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(config));
  return file;
}

/** The environment a child run gets: a private HOME and cache, nothing of the caller's fedgw or OpenFaaS settings. */
export function childEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_CACHE_HOME: join(home, 'xdg-cache'), ...extra };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  return env;
}

/** Every file under `dir` with its contents (the cache's, for the secret check). */
export function filesUnder(dir: string): Array<{ path: string; mode: number; text: string }> {
  const out: Array<{ path: string; mode: number; text: string }> = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    const stat = statSync(path);
    if (stat.isDirectory()) out.push(...filesUnder(path));
    else out.push({ path, mode: stat.mode & 0o777, text: readFileSync(path, 'utf8') });
  }
  return out;
}

/** The claims of a compact JWT (unverified: the test checks what was issued, the gateway verifies). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}
