import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { UsageError } from './usage-error';

/** Signals a terminal or a supervisor sends that faas-cli should get too. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/**
 * The faas-cli binary: $FEDGW_FAAS_CLI (a path, or a name looked up on PATH), else `faas-cli`
 * on PATH. A UsageError when there is none.
 */
export function findFaasCli(env: NodeJS.ProcessEnv): string {
  const wanted = env.FEDGW_FAAS_CLI || 'faas-cli';
  if (wanted.includes('/')) {
    const path = resolve(wanted);
    if (isExecutable(path)) return path;
    throw new UsageError([`FEDGW_FAAS_CLI=${wanted} is not an executable file`]);
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const path = join(dir, wanted);
    if (isExecutable(path)) return path;
  }
  throw new UsageError([`${wanted} was not found on PATH; install faas-cli or set FEDGW_FAAS_CLI to its path`]);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export interface FaasCliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Runs `faas-cli ARGS -g GATEWAY --token TOKEN` with stdio inherited and OPENFAAS_CONFIG on a
 * fresh empty folder only the user can read: a stored `faas-cli login` for the same gateway would
 * otherwise win over --token. The folder is removed afterwards.
 */
export async function runFaasCli(binary: string, args: readonly string[], gateway: string, token: string, env: NodeJS.ProcessEnv): Promise<FaasCliExit> {
  const configDir = await mkdtemp(join(tmpdir(), 'fedgw-faas-cli-'));
  try {
    await chmod(configDir, 0o700);
    const child = spawn(binary, [...args, '-g', gateway, '--token', token], {
      stdio: 'inherit',
      env: { ...env, OPENFAAS_CONFIG: configDir },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    try {
      return await new Promise<FaasCliExit>((resolveExit, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => resolveExit({ code, signal }));
      });
    } finally {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
    }
  } finally {
    await rm(configDir, { recursive: true, force: true });
  }
}
