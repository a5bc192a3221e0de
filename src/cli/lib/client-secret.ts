import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FedgwError, isTimeout } from './fedgw-error';

/** Where a client secret comes from: a file, an environment variable or a command (a KMS or vault CLI). */
export type ClientSecretSpec = { file: string } | { env: string } | { command: string };

export interface ReadSecretOptions {
  /** The environment that `env` names a variable of; the command runs with it too. */
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** `~` at the start of a path is the home folder. */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === '~') return home;
  return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/**
 * Reads a client secret, trimmed of surrounding whitespace. Errors name the source but never
 * carry the secret or a command's output (which may be the secret).
 */
export async function readClientSecret(spec: ClientSecretSpec, options: ReadSecretOptions): Promise<string> {
  let secret: string;
  if ('file' in spec) {
    const path = expandHome(spec.file, options.env.HOME || homedir());
    try {
      secret = await readFile(path, { encoding: 'utf8', signal: options.signal });
    } catch (err) {
      if (isTimeout(err, options.signal)) throw new FedgwError('timeout', `timed out reading clientSecretFile ${path}`);
      const code = (err as NodeJS.ErrnoException).code;
      throw new FedgwError('secret', `clientSecretFile ${path} cannot be read (${code ?? 'error'})`);
    }
  } else if ('env' in spec) {
    const value = options.env[spec.env];
    if (value === undefined) throw new FedgwError('secret', `clientSecretEnv: environment variable ${spec.env} is not set`);
    secret = value;
  } else {
    secret = await runSecretCommand(spec.command, options);
  }
  secret = secret.trim();
  if (secret === '') throw new FedgwError('secret', `the client secret from ${sourceName(spec)} is empty`);
  return secret;
}

function runSecretCommand(command: string, options: ReadSecretOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    // stderr passes through: a vault CLI explains its own failures there; stdout is the secret.
    const child = execFile('/bin/sh', ['-c', command], { env: options.env, signal: options.signal, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (!err) return resolve(stdout);
      if (isTimeout(err, options.signal)) return reject(new FedgwError('timeout', 'timed out running clientSecretCommand'));
      const code = (err as { code?: unknown }).code;
      const how = typeof code === 'number' ? `exited with code ${code}` : `failed (${(err as { signal?: string }).signal ?? code ?? 'error'})`;
      reject(new FedgwError('secret', `clientSecretCommand ${how}; its output is not shown as it may hold the secret`));
    });
    child.stderr?.pipe(process.stderr, { end: false });
  });
}

function sourceName(spec: ClientSecretSpec): string {
  if ('file' in spec) return `clientSecretFile ${spec.file}`;
  if ('env' in spec) return `clientSecretEnv ${spec.env}`;
  return 'clientSecretCommand';
}

/** Removes every spelling of `secret` (as sent in a form body, too) from a text. */
export function scrubSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  const spellings = new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]);
  let out = text;
  for (const s of spellings) out = out.split(s).join('[redacted]');
  return out;
}
