import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { request } from './http-client';
import { waitUntil } from './wait';

/** The tsc output of src/main.ts: build/src/main.js, seen from build/test/support/. */
const MAIN = join(__dirname, '..', '..', 'src', 'main.js');

export interface GatewayExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the process exited. */
  at: number;
}

/**
 * The real gateway process, as operators and containers run it (`node dist/main.js`; here the tsc
 * output in build/), spawned with nothing but the environment given (plus PATH), with its stdout
 * and stderr captured, apart and together.
 */
export class GatewayProcess {
  stdout = '';
  stderr = '';
  /** stdout and stderr interleaved, in the order they arrived. */
  log = '';
  /** Resolves when the process exits. */
  readonly exited: Promise<GatewayExit>;
  /** How the process exited; undefined while it runs. */
  exit: GatewayExit | undefined;

  private constructor(
    readonly child: ChildProcess,
    private readonly listenPort?: number,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.log += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.log += chunk;
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        resolve(this.exit);
      });
    });
  }

  /**
   * Spawns `node build/src/main.js` with only `env` and PATH: none of the test runner's environment
   * may configure the gateway. `nodeArgs` go to node before the script (a V8 trace flag, say).
   */
  static spawn(env: Record<string, string>, port?: number, nodeArgs: readonly string[] = []): GatewayProcess {
    const child = spawn(process.execPath, [...nodeArgs, MAIN], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new GatewayProcess(child, port);
  }

  /** The `port` it was spawned with (the base of `url` and `ready()`); throws if none was given. */
  get port(): number {
    if (this.listenPort === undefined) throw new Error('the gateway was spawned without a port');
    return this.listenPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves once the process has printed anything: main.ts is running, the listener is not yet up. */
  async started(): Promise<void> {
    await waitUntil(() => this.log.length > 0 || this.child.exitCode !== null, 15_000, { message: 'the gateway printed nothing' });
  }

  /** Resolves once GET /healthz on `port` answers 200; fails if the process exits first. */
  async ready(): Promise<void> {
    await waitUntil(
      async () => {
        if (this.child.exitCode !== null) throw new Error(`the gateway exited during start:\n${this.log}`);
        return (await request(`${this.url}/healthz`, { timeoutMs: 1000 }).catch(() => undefined))?.status === 200;
      },
      20_000,
      { intervalMs: 100, message: `the gateway did not become ready:\n${this.log}` },
    );
  }

  /** Sends SIGTERM; returns when (Date.now()). */
  terminate(): number {
    this.child.kill('SIGTERM');
    return Date.now();
  }

  /** Exit within `ms`, or fail (killing the process). */
  async exitWithin(ms: number): Promise<GatewayExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (!result) {
      this.child.kill('SIGKILL');
      assert.fail(`the gateway did not exit within ${ms} ms\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
    }
    return result;
  }

  /** SIGKILL, unless it has already exited (for `after` hooks). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
