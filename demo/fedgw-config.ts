import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface DemoFedgwConfig {
  /** The fedgw configuration file. */
  file: string;
  /** The lines to try, ready to print. */
  instructions: string;
  /** Removes the folder holding the file and the secret. */
  remove(): void;
}

/**
 * A fedgw configuration for the demo's own identity provider and gateway (cluster `demo`), its
 * client secret in a 0600 file beside it, in a private temporary folder.
 */
export function writeFedgwConfig(opts: { issuer: string; gateway: string; clientId: string; clientSecret: string }): DemoFedgwConfig {
  const dir = mkdtempSync(join(tmpdir(), 'fedgw-demo-'));
  chmodSync(dir, 0o700);
  const secretFile = join(dir, 'demo.secret');
  writeFileSync(secretFile, `${opts.clientSecret}\n`, { mode: 0o600 });
  const file = join(dir, 'clusters.yaml');
  const config = { clusters: { demo: { gateway: opts.gateway, issuer: opts.issuer, clientId: opts.clientId, clientSecretFile: secretFile } } };
  writeFileSync(file, stringify(config), { mode: 0o600 });
  const instructions = `The vendor's command line, on this demo as cluster "demo" (npm run build first):
  FEDGW_CONFIG=${file} npx fedgw status
  FEDGW_CONFIG=${file} npx fedgw functions
  FEDGW_CONFIG=${file} npx fedgw faas-cli demo -- list
`;
  return { file, instructions, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
