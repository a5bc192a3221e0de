import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'openfaas-federated-gateway' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

/** The gateway's version, read once from its package.json. */
export const GATEWAY_VERSION = findVersion();

/** When this process started. */
export const STARTED_AT = new Date();
