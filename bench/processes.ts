import { ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../test/support/http-client';
import { freePorts } from '../test/support/ports';
import { sleep, waitUntil } from '../test/support/wait';

export const MiB = 1024 * 1024;

/** A process under measurement: its base URL and its resident memory as the kernel counts it. */
export class Measured {
  private output = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000)));
  }

  /** Resident set size in bytes (VmRSS), read from /proc so that no code runs in the process to tell it. */
  rss(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (!kib) throw new Error(`no VmRSS for ${this.name}`);
    return Number(kib[1]) * 1024;
  }

  /** RSS once the process has been left alone for `ms` (timers, GC and freed buffers settle). */
  async settledRss(ms = 1000): Promise<number> {
    await sleep(ms);
    return this.rss();
  }

  /** Samples RSS every 20 ms while `work` runs; resolves with the work's result and the peak seen. */
  async peakRssDuring<T>(work: () => Promise<T>): Promise<{ result: T; peak: number }> {
    let peak = this.rss();
    const sampler = setInterval(() => (peak = Math.max(peak, this.rss())), 20);
    try {
      const result = await work();
      return { result, peak: Math.max(peak, this.rss()) };
    } finally {
      clearInterval(sampler);
    }
  }

  get lastErrors(): string {
    return this.output;
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Forks one of the bench's own children (compiled next to this file) and waits for its port. */
export async function forkChild(name: string, script: string, env: Record<string, string> = {}): Promise<Measured> {
  const child = fork(join(__dirname, script), [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before listening`)));
  });
  return new Measured(name, child, `http://127.0.0.1:${port}`);
}

/**
 * The node flags the image starts the gateway with (the Dockerfile's CMD), or BENCH_NODE_FLAGS
 * when set (space-separated; empty for none), to compare.
 */
export function gatewayNodeFlags(): string[] {
  const override = process.env.BENCH_NODE_FLAGS;
  if (override !== undefined) return override.split(' ').filter(Boolean);
  const dockerfile = readFileSync(join(__dirname, '..', '..', 'Dockerfile'), 'utf8');
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
  if (!cmd) throw new Error('the Dockerfile has no CMD ["node", ...] line');
  const argv = JSON.parse(cmd[1] as string) as string[];
  return argv.slice(1, -1);
}

/**
 * The gateway exactly as a container runs it, `node build/src/main.js` with its environment; its
 * log lines go where a container's go, to a stream nobody waits on.
 */
export async function spawnGateway(env: Record<string, string>, name = 'gateway'): Promise<Measured> {
  const [port, metricsPort] = await freePorts(2);
  const main = join(__dirname, '..', 'src', 'main.js');
  const child = spawn(process.execPath, [...gatewayNodeFlags(), main], {
    env: { PATH: process.env.PATH ?? '', ...env, port: String(port), metrics_port: String(metricsPort) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const gateway = new Measured(name, child, `http://127.0.0.1:${port}`);
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`the gateway exited during start: ${gateway.lastErrors}`);
      return (await request(`${gateway.url}/healthz`, { timeoutMs: 1000 }).catch(() => undefined))?.status === 200;
    },
    30_000,
    { intervalMs: 100, message: 'the gateway did not become ready' },
  );
  return gateway;
}
