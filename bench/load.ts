import http from 'node:http';
import { Readable } from 'node:stream';
import { sleep } from '../test/support/wait';

/** The slice of autocannon's programmatic API used here (the package ships no types). */
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** A run is an event emitter that is also the promise of its result. */
interface AutocannonRun extends Promise<AutocannonResult> {
  on(event: 'response', listener: (client: unknown, status: number) => void): void;
  stop(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => AutocannonRun;

/**
 * A steady load: `rate` requests/s over `connections` connections until stopped; `answered()`
 * counts the 200 responses so far, `failed()` the others.
 */
export function steadyLoad(url: string, headers: Record<string, string>, connections: number, rate: number): { answered: () => number; failed: () => number; stop: () => void } {
  // The duration only bounds a run nobody stops; the caller stops it.
  const run = autocannon({ url, headers, connections, overallRate: rate, duration: 3600 });
  let answered = 0;
  let failed = 0;
  run.on('response', (_client, status) => (status === 200 ? answered++ : failed++));
  // Stopped runs resolve; a failed one is seen as answers that stop coming.
  run.catch(() => undefined);
  return { answered: () => answered, failed: () => failed, stop: () => run.stop() };
}

/** The middle value (the upper one of the two middle values for an even count). */
export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
}

/** Drives `url` with `connections` keep-alive connections for `seconds`; every answer must be a 200. */
export async function drive(url: string, headers: Record<string, string>, connections: number, seconds: number): Promise<LoadResult> {
  const result = await autocannon({ url, headers, connections, duration: seconds, pipelining: 1 });
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) throw new Error(`${url}: ${failed} of ${result.requests.total} requests failed (non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts})`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const FIRST_PART = Buffer.alloc(64 * 1024, 0x61);
const UPLOAD_LENGTH = 1024 * 1024;

/**
 * `total` uploads of a declared 1 MiB, `batch` at a time: each sends its first 64 KiB, waits a
 * moment for the gateway to forward them, and aborts.
 */
export async function abortedUploads(url: string, headers: Record<string, string>, total: number, batch = 50): Promise<void> {
  for (let done = 0; done < total; done += batch) {
    await Promise.all(
      Array.from(
        { length: Math.min(batch, total - done) },
        () =>
          new Promise<void>((resolve) => {
            const req = http.request(url, { method: 'POST', agent: false, headers: { ...headers, 'content-length': UPLOAD_LENGTH } });
            req.on('error', () => undefined);
            req.on('close', () => resolve());
            req.write(FIRST_PART, () => void sleep(5).then(() => req.destroy()));
          }),
      ),
    );
  }
}

const BLOCK = Buffer.alloc(64 * 1024, 0x7a);

function zeros(bytes: number): Readable {
  let left = bytes;
  return new Readable({
    read() {
      const chunk = left >= BLOCK.length ? BLOCK : BLOCK.subarray(0, left);
      left -= chunk.length;
      this.push(chunk.length ? chunk : null);
    },
  });
}

/** Streams `bytes` up to `url`; resolves with the seconds it took once the upstream confirmed the count. */
export function streamUp(url: string, headers: Record<string, string>, bytes: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { ...headers, 'content-length': bytes } });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => (body += text));
      res.on('end', () => {
        const received = res.statusCode === 200 ? (JSON.parse(body) as { bytes: number }).bytes : -1;
        if (received !== bytes) reject(new Error(`upload: ${res.statusCode}, upstream received ${received} of ${bytes} bytes`));
        else resolve((performance.now() - started) / 1000);
      });
    });
    zeros(bytes).pipe(req);
  });
}

/** Streams `bytes` down from `url`; resolves with the seconds it took. */
export function streamDown(url: string, headers: Record<string, string>, bytes: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}?bytes=${bytes}`, { agent: false, headers }, (res) => {
      let received = 0;
      res.on('data', (chunk: Buffer) => (received += chunk.length));
      res.on('end', () => {
        if (res.statusCode !== 200 || received !== bytes) reject(new Error(`download: ${res.statusCode}, ${received} of ${bytes} bytes`));
        else resolve((performance.now() - started) / 1000);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
