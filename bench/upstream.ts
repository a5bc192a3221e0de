import http, { IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * The benchmark's OpenFaaS: a fixed response for every call, plus the three endpoints the
 * streaming and abort measurements use. Runs as its own process (forked by bench/main.ts) and
 * reports its port over IPC.
 */
const FIXED = Buffer.from(
  JSON.stringify({
    provider: { provider: 'bench-upstream', orchestration: 'none', version: { release: '0.0.0', sha: 'bench' } },
    version: { release: '0.0.0', sha: 'bench', commit_message: 'fixed response' },
    arch: 'x86_64',
  }),
);
const FIXED_HEADERS = { 'content-type': 'application/json', 'content-length': FIXED.length };
const BLOCK = Buffer.alloc(64 * 1024, 0x5a);

/** POST /function/upload: reads the whole body, answers with its size. */
function upload(req: IncomingMessage, res: ServerResponse): void {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => {
    const body = JSON.stringify({ bytes });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
}

/** GET /function/download?bytes=N: N bytes, written as fast as the reader takes them. */
function download(req: IncomingMessage, res: ServerResponse): void {
  let left = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('bytes') ?? 0);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
  const pump = () => {
    while (left > 0) {
      const chunk = left >= BLOCK.length ? BLOCK : BLOCK.subarray(0, left);
      left -= chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

/** POST /function/sink: reads whatever comes and never answers (the target of aborted uploads). */
function sink(req: IncomingMessage): void {
  req.resume();
}

const server = http.createServer((req, res) => {
  req.on('error', () => undefined);
  res.on('error', () => undefined);
  const path = req.url ?? '/';
  if (path.startsWith('/function/upload')) return upload(req, res);
  if (path.startsWith('/function/download')) return download(req, res);
  if (path.startsWith('/function/sink')) return sink(req);
  req.resume();
  res.writeHead(200, FIXED_HEADERS).end(FIXED);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
