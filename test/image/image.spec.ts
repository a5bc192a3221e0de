/**
 * The container image, without a Docker engine: the Dockerfile's stages are replayed on this
 * machine from a clean build context (the repository's files minus what .dockerignore keeps
 * out), running exactly the Dockerfile's COPY and RUN steps, and the shipped stage's CMD is then
 * started against a real identity provider and an OpenFaaS stand-in.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestIdentityProvider } from '../support/identity-provider';
import { OpenFaasStandIn } from '../support/openfaas-stand-in';
import { closedPort, request } from '../support/http-client';

const repoRoot = findRepoRoot(__dirname);
const BUILD_TIMEOUT_MS = 12 * 60_000;

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'Dockerfile')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no Dockerfile above ${from}`);
  }
}

// ---------------------------------------------------------------------------------------------
// .dockerignore, as Docker reads it

interface IgnoreRule {
  negate: boolean;
  pattern: string;
  regex: RegExp;
}

function globToRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      if (pattern[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      re += pattern.slice(i, end + 1).replace(/^\[!/, '[^');
      i = end;
    } else if (c === '\\') re += `\\${pattern[++i]}`;
    else re += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function readDockerignore(file: string): IgnoreRule[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
      return { negate, pattern, regex: globToRegex(pattern) };
    });
}

/** Whether Docker leaves `rel` (a posix path relative to the context) out of the build context. */
function ignored(rules: IgnoreRule[], rel: string): boolean {
  const parts = rel.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.regex.test(c))) out = !rule.negate;
  }
  return out;
}

/** The repository's files (tracked, or new and not git-ignored), as a clone would have them. */
function repositoryFiles(): string[] {
  const git = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(git.status, 0, `git ls-files: ${git.stderr}`);
  return [...new Set(git.stdout.split('\0').filter(Boolean))].filter((f) => fs.existsSync(path.join(repoRoot, f)));
}

// ---------------------------------------------------------------------------------------------
// the Dockerfile, replayed

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (!line || line.startsWith('#'))) return;
    if (pending && line.startsWith('#')) return;
    if (!pending) start = i + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    assert.ok(m, `Dockerfile line ${start}: ${full}`);
    logical.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: start });
  });
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of logical) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `FROM on line ${ins.line}`);
      const image = m[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a ?? b] ?? '');
      stages.push({ name: m[2] ?? String(stages.length), image, instructions: [] });
    } else if (!stages.length) {
      assert.equal(ins.keyword, 'ARG', `only ARG may come before FROM (line ${ins.line})`);
      const [k, v = ''] = ins.args.split('=', 2);
      args[k.trim()] = v.trim();
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { args, stages };
}

function parseJsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  const parsed = JSON.parse(text) as unknown;
  assert.ok(Array.isArray(parsed) && parsed.every((x) => typeof x === 'string'), `JSON array: ${text}`);
  return parsed as string[];
}

/** Splits off leading --flag[=value] options of COPY and RUN. */
function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (let m = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest); m; m = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest)) {
    flags[m[1]] = m[2] ?? 'true';
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

interface BuiltStage {
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  exposed: string[];
  cmd?: string[];
  healthcheck?: string;
}

/** The stage's filesystem path for an in-image path. */
function inStage(stage: BuiltStage, p: string): string {
  return path.join(stage.root, path.posix.isAbsolute(p) ? p : path.posix.join(stage.workdir, p));
}

function copyInto(from: string, dest: string, destIsDir: boolean): void {
  if (fs.statSync(from).isDirectory()) {
    fs.mkdirSync(dest, { recursive: true });
    fs.cpSync(from, dest, { recursive: true });
  } else {
    const target = destIsDir ? path.join(dest, path.basename(from)) : dest;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(from, target);
  }
}

/** Environment for RUN steps: the machine's PATH and HOME, npm preferring its local cache. */
function runEnv(stage: BuiltStage): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...stage.env,
    npm_config_prefer_offline: 'true',
    npm_config_update_notifier: 'false',
  };
}

function replay(dockerfile: ReturnType<typeof parseDockerfile>, context: string, work: string, log: string[]): Map<string, BuiltStage> {
  const built = new Map<string, BuiltStage>();
  for (const [index, stage] of dockerfile.stages.entries()) {
    const state: BuiltStage = { root: path.join(work, `stage-${index}-${stage.name}`), workdir: '/', env: {}, exposed: [] };
    fs.mkdirSync(state.root, { recursive: true });
    for (const ins of stage.instructions) {
      const where = `Dockerfile line ${ins.line} (${ins.keyword})`;
      switch (ins.keyword) {
        case 'WORKDIR':
          state.workdir = path.posix.resolve(state.workdir, ins.args);
          fs.mkdirSync(inStage(state, '.'), { recursive: true });
          break;
        case 'ENV':
          for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S*)/g)) state.env[m[1]] = m[2].replace(/^"|"$/g, '');
          break;
        case 'COPY': {
          const { flags, rest } = splitFlags(ins.args);
          const parts = parseJsonArray(rest) ?? rest.split(/\s+/);
          const dest = parts.pop()!;
          const sourceRoot = flags.from ? built.get(flags.from)?.root : context;
          assert.ok(sourceRoot, `${where}: no stage named ${flags.from}`);
          const destIsDir = dest.endsWith('/') || parts.length > 1;
          for (const src of parts) {
            const from = flags.from ? path.join(sourceRoot, src) : path.join(context, src);
            assert.ok(fs.existsSync(from), `${where}: ${src} is not in the ${flags.from ? `${flags.from} stage` : 'build context'}`);
            copyInto(from, inStage(state, dest), destIsDir);
          }
          break;
        }
        case 'RUN': {
          const { rest } = splitFlags(ins.args);
          const argv = parseJsonArray(rest) ?? ['sh', '-c', rest];
          const started = Date.now();
          const r = spawnSync(argv[0], argv.slice(1), {
            cwd: inStage(state, '.'),
            env: runEnv(state),
            encoding: 'utf8',
            timeout: BUILD_TIMEOUT_MS,
            maxBuffer: 64 * 1024 * 1024,
          });
          log.push(`${stage.name}: RUN ${rest} (${Date.now() - started} ms, exit ${r.status})`);
          assert.equal(r.status, 0, `${where}: ${rest} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
          break;
        }
        case 'USER':
          state.user = ins.args;
          break;
        case 'EXPOSE':
          state.exposed.push(...ins.args.split(/\s+/));
          break;
        case 'CMD':
          state.cmd = parseJsonArray(ins.args);
          assert.ok(state.cmd, `${where}: use the exec (JSON) form`);
          break;
        case 'HEALTHCHECK':
          state.healthcheck = ins.args;
          break;
        case 'ARG':
        case 'LABEL':
          break;
        default:
          assert.fail(`${where}: the image test cannot replay ${ins.keyword}; teach test/image/image.spec.ts`);
      }
    }
    built.set(stage.name, state);
  }
  return built;
}

// ---------------------------------------------------------------------------------------------
// starting the shipped stage

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(stage: BuiltStage, env: Record<string, string>): Running {
  assert.ok(stage.cmd, 'the shipped stage has a CMD');
  const child = spawn(stage.cmd[0], stage.cmd.slice(1), {
    cwd: inStage(stage, '.'),
    env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...stage.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

async function within<T>(ms: number, p: Promise<T>): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls url until it answers `status`; fails early when the process exits. */
async function waitForStatus(run: Running, url: string, status: number, ms = 20_000): Promise<void> {
  let exited = false;
  void run.exited.then(() => (exited = true));
  const deadline = Date.now() + ms;
  let last = 'no answer';
  while (Date.now() < deadline) {
    assert.ok(!exited, `the gateway exited before ${url} answered ${status}:\n${run.output()}`);
    try {
      const r = await request(url, { timeoutMs: 2000 });
      if (r.status === status) return;
      last = `${r.status} ${r.text.slice(0, 300)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${url} did not answer ${status} within ${ms} ms (last: ${last}):\n${run.output()}`);
}

async function stop(run: Running): Promise<void> {
  if (run.child.exitCode === null && run.child.signalCode === null) {
    run.child.kill('SIGKILL');
    await run.exited;
  }
}

// ---------------------------------------------------------------------------------------------

const dockerfileText = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const dockerfile = parseDockerfile(dockerfileText);
const rules = readDockerignore(path.join(repoRoot, '.dockerignore'));

/** Node's current LTS line, which the image ships; CI runs the whole suite on it too (.ci/run). */
const LTS_MAJOR = 24;

/** The major version of a `vX.Y.Z` or `X.Y.Z` string. */
function majorOf(version: string): number {
  return Number(/^v?(\d+)\./.exec(version.trim())?.[1]);
}

/** The version of the `node` that the replayed RUN steps and CMD find on the PATH. */
function pathNodeVersion(): string {
  const r = spawnSync('node', ['--version'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  assert.equal(r.status, 0, `node --version: ${r.error?.message ?? r.stderr}`);
  return r.stdout.trim();
}

describe('Dockerfile and .dockerignore', () => {
  it(`builds in one stage and ships from a small Node ${LTS_MAJOR} (LTS) base in another`, () => {
    assert.ok(dockerfile.stages.length >= 2, 'multi-stage');
    const base = new RegExp(`^node:${LTS_MAJOR}(\\.\\d+){0,2}-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$`);
    for (const s of dockerfile.stages) assert.match(s.image, base, s.image);
    const build = dockerfile.stages[0].instructions.map((i) => `${i.keyword} ${i.args}`).join('\n');
    assert.match(build, /RUN .*npm ci(?![^\n]*--omit=dev)/, 'the build stage installs dev dependencies');
    assert.match(build, /RUN .*npm run build/);
    const shipped = dockerfile.stages[dockerfile.stages.length - 1];
    const lines = shipped.instructions.map((i) => `${i.keyword} ${i.args}`);
    assert.ok(lines.some((l) => /^RUN .*npm ci .*--omit=dev/.test(l)), 'production dependencies only');
    assert.ok(lines.some((l) => /^COPY --from=\S+ \/app\/dist \.\/dist$/.test(l)), 'dist/ from the build stage');
    const fromContext = lines.filter((l) => /^COPY (?!--from)/.test(l)).flatMap((l) => l.split(/\s+/).slice(1, -1));
    assert.deepEqual(fromContext.sort(), ['package-lock.json', 'package.json'], 'nothing else from the context');
    assert.ok(lines.includes('ENV NODE_ENV=production'));
    // Numeric, so that Kubernetes can verify runAsNonRoot; 1000:1000 is the image's node user.
    assert.ok(lines.includes('USER 1000:1000'), 'non-root: the node user, uid/gid 1000, by number');
    const userAt = lines.indexOf('USER 1000:1000');
    assert.ok(lines.slice(userAt).every((l) => !l.startsWith('RUN ')), 'USER follows every RUN step');
    assert.deepEqual(lines.filter((l) => l.startsWith('EXPOSE ')).flatMap((l) => l.split(/\s+/).slice(1)).sort(), ['8080', '8082']);
    assert.equal(lines[lines.length - 1], 'CMD ["node", "--max-semi-space-size=16", "dist/main.js"]');
    const hc = lines.find((l) => l.startsWith('HEALTHCHECK '));
    if (hc) assert.match(hc, /\/livez/, 'the health check is the liveness endpoint');
  });

  it(`declares Node ${LTS_MAJOR} in package.json's engines`, () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { engines?: { node?: string } };
    const ranges = (pkg.engines?.node ?? '').split('||').map((r) => r.trim());
    assert.ok(ranges.includes(`^${LTS_MAJOR}.0.0`), `engines.node (${pkg.engines?.node}) names ^${LTS_MAJOR}.0.0`);
  });

  // On the machine's own Node this is skipped; CI's second run puts Node 24 first on the PATH
  // (.ci/run), so that the replay below runs npm ci and the CMD on the image's Node line.
  const testedOn = majorOf(process.version);
  it(
    `runs these tests, the replayed RUN steps and the CMD on the image's Node ${LTS_MAJOR}`,
    { skip: testedOn === LTS_MAJOR ? false : `running on Node ${process.version}; CI's Node ${LTS_MAJOR} run checks this` },
    (t) => {
      const onPath = pathNodeVersion();
      t.diagnostic(`tests on ${process.version}, node on the PATH ${onPath}`);
      assert.equal(majorOf(onPath), LTS_MAJOR, `node on the PATH is ${onPath}`);
      assert.equal(onPath, process.version, 'the node on the PATH is the one running the tests');
    },
  );

  it('keeps dependencies, build output, tests, tooling and secrets out of the build context', () => {
    for (const p of [
      'node_modules/express/index.js',
      'dist/main.js',
      'build/test/chart/chart.spec.js',
      'test/support/identity-provider.ts',
      'src/auth/token-cache.spec.ts',
      'bench/main.ts',
      'demo/main.ts',
      'chart/values.yaml',
      '.git/config',
      '.ci/run',
      '.env',
      '.env.local',
      'src/.env',
      'tls.key',
      'certs/server.pem',
      'secrets/basic-auth-password',
      'basic-auth-password',
      '.npmrc',
      'README.md',
    ]) {
      assert.ok(ignored(rules, p), `${p} must stay out of the image build context`);
    }
    for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/main.ts', 'src/config/gateway-config.ts']) {
      assert.ok(!ignored(rules, p), `${p} is needed to build`);
    }
  });

  it('reads .dockerignore patterns the way Docker does', () => {
    const r = (lines: string[]) => lines.map((l) => ({ negate: l.startsWith('!'), pattern: l, regex: globToRegex(l.replace(/^!/, '')) }));
    assert.equal(ignored(r(['node_modules']), 'node_modules/a/b.js'), true, 'a folder takes its contents');
    assert.equal(ignored(r(['node_modules']), 'src/node_modules/a.js'), false, 'a plain pattern is anchored at the root');
    assert.equal(ignored(r(['**/node_modules']), 'src/node_modules/a.js'), true);
    assert.equal(ignored(r(['*.md', '!README.md']), 'README.md'), false, 'the last matching rule wins');
    assert.equal(ignored(r(['*.md']), 'docs/a.md'), false, '* stops at /');
  });
});

describe('the image, replayed without Docker', { timeout: BUILD_TIMEOUT_MS + 5 * 60_000 }, () => {
  let work = '';
  let shipped: BuiltStage;
  let idp: TestIdentityProvider | undefined;
  let openfaas: OpenFaasStandIn | undefined;
  let secrets = '';
  const log: string[] = [];

  before(
    async () => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'image-replay-'));
      const context = path.join(work, 'context');
      for (const f of repositoryFiles()) {
        if (ignored(rules, f)) continue;
        fs.mkdirSync(path.join(context, path.dirname(f)), { recursive: true });
        fs.copyFileSync(path.join(repoRoot, f), path.join(context, f));
      }
      log.push(`replayed with node ${pathNodeVersion()} and npm from the PATH`);
      const stages = replay(dockerfile, context, work, log);
      shipped = stages.get(dockerfile.stages[dockerfile.stages.length - 1].name)!;
      idp = await TestIdentityProvider.start({ audience: 'fed-gw' });
      openfaas = await OpenFaasStandIn.start({ user: 'admin', password: 'stand-in-admin-password' });
      secrets = path.join(work, 'secrets');
      fs.mkdirSync(secrets);
      fs.writeFileSync(path.join(secrets, 'basic-auth-user'), 'admin\n');
      fs.writeFileSync(path.join(secrets, 'basic-auth-password'), 'stand-in-admin-password\n');
    },
    { timeout: BUILD_TIMEOUT_MS },
  );

  after(async () => {
    if (log.length) console.log(log.join('\n'));
    await idp?.close();
    await openfaas?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  async function gatewayEnv(overrides: Record<string, string | undefined> = {}): Promise<Record<string, string>> {
    const env: Record<string, string | undefined> = {
      port: String(await closedPort()),
      metrics_port: String(await closedPort()),
      issuer: idp!.issuer,
      audience: 'fed-gw',
      gateway_url: openfaas!.url,
      secret_mount_path: secrets,
      ...overrides,
    };
    return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  }

  it('ships production dependencies and dist/ only', () => {
    const app = inStage(shipped, '.');
    assert.deepEqual(fs.readdirSync(app).sort(), ['dist', 'node_modules', 'package-lock.json', 'package.json']);
    assert.ok(fs.existsSync(path.join(app, 'dist', 'main.js')));
    // The lockfile marks what only development needs (dev: true), transitive packages included.
    const lock = JSON.parse(fs.readFileSync(path.join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
    };
    const installed = Object.entries(lock.packages).filter(([p]) => p.startsWith('node_modules/'));
    const shippedDev = installed.filter(([p, e]) => (e.dev || e.devOptional) && fs.existsSync(path.join(app, p))).map(([p]) => p);
    assert.deepEqual(shippedDev, [], 'development-only packages in the image');
    const missing = installed
      .filter(([p, e]) => !e.dev && !e.optional && !e.devOptional && !fs.existsSync(path.join(app, p)))
      .map(([p]) => p);
    assert.deepEqual(missing, [], 'production packages missing from the image');
    assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'typescript')), 'no compiler in the image');
    assert.ok(!fs.existsSync(path.join(app, 'node_modules', '.bin', 'tsc')), 'no compiler in the image');
    assert.equal(shipped.env.NODE_ENV, 'production');
    assert.equal(shipped.user, '1000:1000');
    assert.deepEqual(shipped.exposed.sort(), ['8080', '8082']);
  });

  it('starts, becomes ready on /healthz, serves a token-bearing call and stops on SIGTERM', async () => {
    const env = await gatewayEnv();
    const run = start(shipped, env);
    try {
      await waitForStatus(run, `http://127.0.0.1:${env.port}/healthz`, 200);
      await waitForStatus(run, `http://127.0.0.1:${env.metrics_port}/livez`, 200, 5000);
      const token = await idp!.clientCredentialsToken();
      const list = await request(`http://127.0.0.1:${env.port}/system/functions`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(list.status, 200, list.text);
      assert.ok(Array.isArray(list.json()), 'a function list');
      const upstream = openfaas!.requests.filter((r) => r.url.startsWith('/system/functions')).pop();
      assert.equal(upstream?.headers.authorization, `Basic ${Buffer.from('admin:stand-in-admin-password').toString('base64')}`);
      run.child.kill('SIGTERM');
      const exit = await within(30_000, run.exited);
      assert.notEqual(exit, 'timeout', `no exit within 30 s of SIGTERM:\n${run.output()}`);
      assert.equal(exit !== 'timeout' && exit.code, 0, run.output());
    } finally {
      await stop(run);
    }
  });

  it('stays alive but unready while the identity provider is unreachable', async () => {
    const env = await gatewayEnv({ issuer: `http://127.0.0.1:${await closedPort()}/realms/gone` });
    const run = start(shipped, env);
    try {
      await waitForStatus(run, `http://127.0.0.1:${env.metrics_port}/livez`, 200);
      await waitForStatus(run, `http://127.0.0.1:${env.port}/healthz`, 503, 5000);
    } finally {
      await stop(run);
    }
  });

  it('exits non-zero before listening, naming issuer, when issuer is unset', async () => {
    const run = start(shipped, await gatewayEnv({ issuer: undefined }));
    try {
      const exit = await within(20_000, run.exited);
      assert.notEqual(exit, 'timeout', `still running 20 s without an issuer:\n${run.output()}`);
      assert.ok(exit !== 'timeout' && exit.code !== 0 && exit.code !== null, `exit ${JSON.stringify(exit)}`);
      assert.match(run.output(), /\bissuer\b/);
    } finally {
      await stop(run);
    }
  });
});
