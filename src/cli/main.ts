#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../config/duration';
import { ClusterConfig, configPath, FedgwConfig, loadCliConfig, selectClusters } from './cli-config';
import { CliContext, SharedOptions } from './cli-context';
import { clustersCommand } from './commands/clusters.command';
import { diagnoseCommand } from './commands/diagnose.command';
import { faasCliCommand } from './commands/faas-cli.command';
import { functionsCommand } from './commands/functions.command';
import { queryCommand } from './commands/query.command';
import { statusCommand } from './commands/status.command';
import { tokenCommand } from './commands/token.command';
import { UsageError } from './usage-error';

const DEFAULT_CONCURRENCY = 8;
const DEFAULT_TIMEOUT = '10s';

// fedgw is a program of its own, configured by its file and this environment, read once here.
// eslint-disable-next-line no-restricted-properties
const ENV = process.env;

interface RawOptions {
  config?: string;
  concurrency: number;
  timeout: number;
  json?: boolean;
  cache: boolean;
}

function concurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}

function timeout(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError('must be whole seconds (10) or a Go duration (1m05s, 500ms)');
  return ms;
}

/** --config, --concurrency, --timeout, --json, --no-cache on every command. */
function withSharedOptions(command: Command): Command {
  return command
    .option('--config <file>', 'configuration file (else $FEDGW_CONFIG, else ~/.config/fedgw/clusters.yaml)')
    .addOption(new Option('--concurrency <n>', 'clusters asked at once').argParser(concurrency).default(DEFAULT_CONCURRENCY))
    .addOption(new Option('--timeout <duration>', "each cluster's whole exchange: token and call").argParser(timeout).default(parseDuration(DEFAULT_TIMEOUT), DEFAULT_TIMEOUT))
    .option('--json', 'JSON for scripts')
    .option('--no-cache', 'neither read nor write the token cache');
}

function context(raw: RawOptions): CliContext {
  const options: SharedOptions = { config: raw.config, concurrency: raw.concurrency, timeoutMs: raw.timeout, json: raw.json === true, cache: raw.cache };
  return new CliContext(options, ENV);
}

function load(raw: RawOptions): FedgwConfig {
  return loadCliConfig(configPath(raw.config, ENV));
}

function one(raw: RawOptions, name: string): ClusterConfig {
  return selectClusters(load(raw), [name])[0] as ClusterConfig;
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('fedgw')
    .description("The vendor's command line for a fleet of OpenFaaS federated gateways.")
    .showHelpAfterError('(fedgw help COMMAND for its usage)')
    .exitOverride();
  const action =
    <A extends unknown[]>(run: (...args: A) => number | Promise<number>) =>
    async (...args: A) =>
      setExit(await run(...args));

  withSharedOptions(program.command('clusters').description('the configured clusters, one a line')).action(
    action((raw: RawOptions) => clustersCommand(context(raw), load(raw))),
  );
  withSharedOptions(program.command('token').description('print a valid access token for CLUSTER').argument('<cluster>')).action(
    action((name: string, raw: RawOptions) => tokenCommand(context(raw), one(raw, name))),
  );
  withSharedOptions(
    program
      .command('faas-cli')
      .description('run faas-cli ARGS -g GATEWAY --token TOKEN against CLUSTER, with no stored login in the way')
      .usage('[options] <cluster> -- [args...]')
      .argument('<cluster>')
      .argument('[args...]', 'faas-cli arguments, after --'),
  ).action(action((name: string, args: string[], raw: RawOptions) => faasCliCommand(context(raw), one(raw, name), args)));
  withSharedOptions(program.command('status').description('every cluster at once: token, then gatewayStatus').argument('[clusters...]')).action(
    action((names: string[], raw: RawOptions) => statusCommand(context(raw), selectClusters(load(raw), names))),
  );
  withSharedOptions(
    program.command('functions').description("the fleet's functions").argument('[clusters...]').option('-n, --namespace <ns>', 'namespace (else each cluster\'s default)'),
  ).action(
    action((names: string[], raw: RawOptions & { namespace?: string }) => functionsCommand(context(raw), selectClusters(load(raw), names), raw.namespace)),
  );
  withSharedOptions(program.command('diagnose').description("a fresh token checked by CLUSTER's gateway (tokenDiagnostics)").argument('<cluster>')).action(
    action((name: string, raw: RawOptions) => diagnoseCommand(context(raw), one(raw, name))),
  );
  withSharedOptions(
    program
      .command('query')
      .description('one GraphQL document on each cluster; JSON keyed by cluster')
      .argument('[clusters...]')
      .requiredOption('-q, --query <graphql>', 'the GraphQL document')
      .option('--variables <json>', 'variables as a JSON object', variables),
  ).action(
    action((names: string[], raw: RawOptions & { query: string; variables?: Record<string, unknown> }) =>
      queryCommand(context(raw), selectClusters(load(raw), names), raw.query, raw.variables),
    ),
  );
  return program;
}

function variables(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('must be a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object');
  return parsed as Record<string, unknown>;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram((code) => (process.exitCode = code)).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not errors; anything else commander refuses is bad usage.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
    } else if (err instanceof UsageError) {
      for (const problem of err.problems) process.stderr.write(`fedgw: ${problem}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`fedgw: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  }
}

void main(process.argv);
