import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestIdentityProvider } from '../test/support/identity-provider';
import { median, steadyLoad } from './load';
import { forkChild, Measured, spawnGateway } from './processes';
import { sleep } from '../test/support/wait';

/**
 * npm run bench:cpu: how much CPU each proxy spends per request, measured side by side. The
 * throughput bench alternates its targets, so a machine whose speed drifts between rounds moves
 * the ratio by several percent; here the floor, the floor inside a process that also runs the
 * idle gateway application, and the gateway (two of it, since one process can land in a slower
 * state than another) are all driven at once, each at the same fixed rate, and each window
 * compares them under the same conditions. floor / x estimates x's throughput relative to the floor.
 */
const CONNECTIONS = 50;
const RATE = positiveInteger('BENCH_RATE', 1500);
const WINDOWS = positiveInteger('BENCH_WINDOWS', 10);
const WINDOW_SECONDS = 3;
const WARMUP_SECONDS = 4;
const PATH = '/system/info';
const AUDIENCE = 'openfaas-gateway';

function positiveInteger(name: string, fallback: number): number {
  const value = process.env[name] === undefined ? fallback : Number(process.env[name]);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`bench:cpu: ${name} must be a positive integer, not "${process.env[name]}"`);
    process.exit(2);
  }
  return value;
}

/** CPU time the process has used so far (user + system), in microseconds. */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function main(): Promise<void> {
  const idp = await TestIdentityProvider.start({ audience: AUDIENCE });
  const secrets = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  writeFileSync(join(secrets, 'basic-auth-user'), 'admin\n');
  writeFileSync(join(secrets, 'basic-auth-password'), 'bench-admin-password\n');
  const children: Measured[] = [];
  const loads: Array<ReturnType<typeof steadyLoad>> = [];
  try {
    const upstream = await forkChild('upstream', 'upstream.js');
    children.push(upstream);
    const env = { issuer: idp.issuer, audience: AUDIENCE, gateway_url: upstream.url, secret_mount_path: secrets };
    children.push(await forkChild('http-proxy floor', 'floor.js', { BENCH_TARGET: upstream.url }));
    children.push(await forkChild('floor + idle app', 'floor.js', { BENCH_TARGET: upstream.url, BENCH_APP_ENV: JSON.stringify({ ...env, port: '0', metrics_port: '0' }) }));
    for (const name of ['gateway A', 'gateway B']) children.push(await spawnGateway(env, name));
    const targets = children.slice(1);
    const headers = { authorization: `Bearer ${await idp.clientCredentialsToken()}` };
    console.log(`node ${process.version}, ${cpus().length} cores; ${targets.length} proxies at once, each ${RATE} requests/s over ${CONNECTIONS} connections, GET ${PATH}; ${WINDOWS} windows of ${WINDOW_SECONDS} s`);
    for (const target of targets) loads.push(steadyLoad(target.url + PATH, headers, CONNECTIONS, RATE));
    await sleep(WARMUP_SECONDS * 1000);

    const perRequest: number[][] = targets.map(() => []);
    let before = targets.map((target, i) => [cpuMicros(target.child.pid as number), loads[i].answered()]);
    for (let w = 0; w < WINDOWS; w++) {
      await sleep(WINDOW_SECONDS * 1000);
      const now = targets.map((target, i) => [cpuMicros(target.child.pid as number), loads[i].answered()]);
      now.forEach(([cpu, answered], i) => {
        const served = answered - before[i][1];
        const failed = loads[i].failed();
        if (failed > 0) throw new Error(`${targets[i].name}: ${failed} requests were not answered with a 200`);
        if (served < RATE * WINDOW_SECONDS * 0.8) throw new Error(`${targets[i].name} answered ${served} requests in a window that asked for ${RATE * WINDOW_SECONDS}`);
        perRequest[i].push((cpu - before[i][0]) / served);
      });
      before = now;
    }

    const w = [18, 16, 16, 24];
    const row = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(w[i]) : cell.padStart(w[i]))).join('  ');
    console.log(`\n${row(['', 'CPU µs/request', 'floor / this', 'per window (floor / this)'])}`);
    targets.forEach((target, i) => {
      const ratios = perRequest[i].map((us, j) => perRequest[0][j] / us);
      console.log(row([target.name, median(perRequest[i]).toFixed(1), median(ratios).toFixed(3), `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`]));
    });
    console.log(`RSS MiB: ${targets.map((target) => `${target.name} ${(target.rss() / 2 ** 20).toFixed(0)}`).join(', ')}`);
  } finally {
    for (const load of loads) load.stop();
    for (const child of children) child.stop();
    await idp.close();
    rmSync(secrets, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`bench:cpu failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
