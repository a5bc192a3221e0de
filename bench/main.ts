import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestIdentityProvider } from '../test/support/identity-provider';
import { abortedUploads, drive, LoadResult, median, streamDown, streamUp } from './load';
import { benchAccessFile } from './access-file';
import { forkChild, Measured, MiB, spawnGateway } from './processes';

/**
 * npm run bench: the gateway against the floor of its stack (a bare http-proxy with a keep-alive
 * agent) and against the upstream itself, all on this machine. Each proxy runs in its own process
 * and autocannon drives them from this one, in turn, over several rounds.
 */
const CONNECTIONS = 50;
const ROUNDS = 5;
const ROUND_SECONDS = 3;
const WARMUP_SECONDS = 2;
const PATH = '/system/info';
const AUDIENCE = 'openfaas-gateway';
const ABORT_WARMUP = 200;
const ABORTS = 1000;
const STREAM_BYTES = 1024 * MiB;
/** Streamed each way, unmeasured, first: a process's first big stream grows its allocator once (the floor's too). */
const STREAM_WARMUP_BYTES = 256 * MiB;

const ACCESS_OBJECTS = 20; // Roles, and as many Policies, in the access file of the 'access' gateway
const TARGETS = {
  throughput: 0.85, // gateway requests/s at least this × the floor's (either gateway)
  accessThroughput: 0.95, // the gateway with an access file at least this × the one without
  loadGrowthSlack: 10 * MiB, // gateway RSS growth across the load at most the floor's + this
  abortGrowth: 10 * MiB, // RSS growth over 1,000 aborted uploads after a warm-up
  streamGrowth: 64 * MiB, // RSS growth while 1 GiB streams through, with V8's own collector
};

type Name = 'direct' | 'floor' | 'gateway' | 'access';

const mib = (bytes: number) => (bytes / MiB).toFixed(1);
const signedMib = (bytes: number) => `${bytes >= 0 ? '+' : ''}${mib(bytes)}`;
const row = (cells: Array<string | number>, widths: number[]) => cells.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');

async function main(): Promise<void> {
  const began = Date.now();
  const idp = await TestIdentityProvider.start({ audience: AUDIENCE });
  const secrets = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  writeFileSync(join(secrets, 'basic-auth-user'), 'admin\n');
  writeFileSync(join(secrets, 'basic-auth-password'), 'bench-admin-password\n');
  const children: Measured[] = [];
  try {
    const upstream = await forkChild('upstream', 'upstream.js');
    children.push(upstream);
    const floor = await forkChild('floor', 'floor.js', { BENCH_TARGET: upstream.url });
    children.push(floor);
    const gatewayEnv = { issuer: idp.issuer, audience: AUDIENCE, gateway_url: upstream.url, secret_mount_path: secrets, allow_invoke: 'true' };
    const gateway = await spawnGateway(gatewayEnv);
    children.push(gateway);
    const accessFile = join(secrets, 'access.yaml');
    writeFileSync(accessFile, benchAccessFile(ACCESS_OBJECTS, 'demo-client'));
    const access = await spawnGateway({ ...gatewayEnv, access_file: accessFile }, 'access');
    children.push(access);
    const headers = { authorization: `Bearer ${await idp.clientCredentialsToken()}` };
    const url: Record<Name, string> = { direct: upstream.url + PATH, floor: floor.url + PATH, gateway: gateway.url + PATH, access: access.url + PATH };
    const names = Object.keys(url) as Name[];

    console.log(`node ${process.version}, ${cpus().length} cores; autocannon ${CONNECTIONS} connections, ${ROUNDS} rounds of ${ROUND_SECONDS} s each, GET ${PATH}`);
    const idle = { floor: await floor.settledRss(500), gateway: await gateway.settledRss(0), access: await access.settledRss(0) };
    for (const name of names) await drive(url[name], headers, CONNECTIONS, WARMUP_SECONDS);

    const rounds: Record<Name, LoadResult[]> = { direct: [], floor: [], gateway: [], access: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts with another target, so none always runs on the warmest machine.
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const name of order) rounds[name].push(await drive(url[name], headers, CONNECTIONS, ROUND_SECONDS));
      console.log(`  round ${round + 1}: ${order.map((name) => `${name} ${Math.round(rounds[name][round].rps)}/s`).join(', ')}`);
    }
    const afterLoad = { floor: await floor.settledRss(), gateway: await gateway.settledRss(0) };

    const sink = `${gateway.url}/function/sink`;
    await abortedUploads(sink, headers, ABORT_WARMUP);
    const beforeAborts = await gateway.settledRss();
    await abortedUploads(sink, headers, ABORTS);
    const afterAborts = await gateway.settledRss();

    const stream = async (proxy: Measured) => {
      await streamUp(`${proxy.url}/function/upload`, headers, STREAM_WARMUP_BYTES);
      await streamDown(`${proxy.url}/function/download`, headers, STREAM_WARMUP_BYTES);
      const upBefore = await proxy.settledRss(200);
      const up = await proxy.peakRssDuring(() => streamUp(`${proxy.url}/function/upload`, headers, STREAM_BYTES));
      const downBefore = await proxy.settledRss(200);
      const down = await proxy.peakRssDuring(() => streamDown(`${proxy.url}/function/download`, headers, STREAM_BYTES));
      return { up: { seconds: up.result, grown: up.peak - upBefore }, down: { seconds: down.result, grown: down.peak - downBefore } };
    };
    const streamed = { gateway: await stream(gateway), floor: await stream(floor) };

    const med = (name: Name): LoadResult => ({
      rps: median(rounds[name].map((r) => r.rps)),
      p50: median(rounds[name].map((r) => r.p50)),
      p99: median(rounds[name].map((r) => r.p99)),
    });
    const result = { direct: med('direct'), floor: med('floor'), gateway: med('gateway'), access: med('access') };
    // Ratios within each round, where the targets ran seconds apart on the same (shared) machine.
    const perRound = (other: Name, of: Name = 'gateway') => rounds[of].map((g, i) => g.rps / rounds[other][i].rps);
    const ratioFloor = median(perRound('floor'));
    const ratioDirect = median(perRound('direct'));
    const accessFloor = median(perRound('floor', 'access'));
    const accessGateway = median(perRound('gateway', 'access'));
    const spread = (ratios: number[]) => `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`;
    const growth = { floor: afterLoad.floor - idle.floor, gateway: afterLoad.gateway - idle.gateway };
    const abortGrowth = afterAborts - beforeAborts;

    const checks: Array<[string, boolean]> = [];
    const check = (label: string, ok: boolean) => {
      checks.push([label, ok]);
      return ok ? 'ok' : 'MISSED';
    };

    const w1 = [18, 10, 9, 9];
    console.log(`\nthroughput (medians of ${ROUNDS} rounds; ratios are medians of each round's ratio)`);
    console.log(row(['', 'req/s', 'p50 ms', 'p99 ms'], w1));
    const label = (name: Name) => (name === 'floor' ? 'http-proxy floor' : name === 'access' ? `gateway+access` : name);
    for (const name of names) console.log(row([label(name), Math.round(result[name].rps), result[name].p50, result[name].p99], w1));
    console.log(`gateway / floor   ${ratioFloor.toFixed(2)} (rounds ${spread(perRound('floor'))})   target >= ${TARGETS.throughput}: ${check('throughput', ratioFloor >= TARGETS.throughput)}`);
    console.log(`gateway / direct  ${ratioDirect.toFixed(2)} (rounds ${spread(perRound('direct'))})`);
    console.log(`gateway+access (${ACCESS_OBJECTS} Roles, ${ACCESS_OBJECTS} Policies) / gateway  ${accessGateway.toFixed(2)} (rounds ${spread(perRound('gateway', 'access'))})   target >= ${TARGETS.accessThroughput}: ${check('access throughput', accessGateway >= TARGETS.accessThroughput)}`);
    console.log(`gateway+access / floor  ${accessFloor.toFixed(2)} (rounds ${spread(perRound('floor', 'access'))})   target >= ${TARGETS.throughput}: ${check('access vs floor', accessFloor >= TARGETS.throughput)}`);

    const w2 = [18, 10, 12, 10];
    console.log('\nRSS across the load (MiB)');
    console.log(row(['', 'idle', 'after load', 'growth'], w2));
    console.log(row(['http-proxy floor', mib(idle.floor), mib(afterLoad.floor), signedMib(growth.floor)], w2));
    console.log(row(['gateway', mib(idle.gateway), mib(afterLoad.gateway), signedMib(growth.gateway)], w2));
    console.log(`idle RSS: gateway ${mib(idle.gateway)} MiB, gateway+access ${mib(idle.access)} MiB, http-proxy floor ${mib(idle.floor)} MiB`);
    console.log(
      `gateway growth - floor growth: ${signedMib(growth.gateway - growth.floor)} MiB   target <= +${mib(TARGETS.loadGrowthSlack)}: ${check('load growth', growth.gateway - growth.floor <= TARGETS.loadGrowthSlack)}`,
    );

    console.log('\ngateway RSS over aborted uploads (1 MiB declared, 64 KiB sent, then aborted)');
    console.log(`after ${ABORT_WARMUP} warm-up aborts ${mib(beforeAborts)} MiB, after ${ABORTS} more ${mib(afterAborts)} MiB: ${signedMib(abortGrowth)} MiB   target < ${mib(TARGETS.abortGrowth)}: ${check('abort growth', abortGrowth < TARGETS.abortGrowth)}`);

    const w3 = [18, 8, 10, 22];
    console.log(`\n1 GiB streamed (after ${STREAM_WARMUP_BYTES / MiB} MiB each way unmeasured)`);
    console.log(row(['', 'seconds', 'MiB/s', 'RSS growth (peak) MiB'], w3));
    for (const [label, { seconds, grown }] of [
      ['gateway upload', streamed.gateway.up],
      ['gateway download', streamed.gateway.down],
    ] as const) {
      console.log(row([label, seconds.toFixed(2), Math.round(STREAM_BYTES / MiB / seconds), `${signedMib(grown)} ${check(label, grown < TARGETS.streamGrowth)}`], w3));
    }
    for (const [label, { seconds, grown }] of [
      ['floor upload', streamed.floor.up],
      ['floor download', streamed.floor.down],
    ] as const) {
      console.log(row([label, seconds.toFixed(2), Math.round(STREAM_BYTES / MiB / seconds), signedMib(grown)], w3));
    }
    console.log(`target: gateway growth < ${mib(TARGETS.streamGrowth)} MiB`);

    const missed = checks.filter(([, ok]) => !ok).map(([label]) => label);
    console.log(`\n${missed.length ? `MISSED: ${missed.join(', ')}` : 'all targets met'} (${Math.round((Date.now() - began) / 1000)} s)`);
    process.exitCode = missed.length ? 1 : 0;
  } finally {
    for (const child of children) child.stop();
    await idp.close();
    rmSync(secrets, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
