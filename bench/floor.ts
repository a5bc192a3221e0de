import http from 'node:http';
import { AddressInfo } from 'node:net';
import { createProxyServer } from 'http-proxy';

/**
 * The floor for this stack: a bare http-proxy with a keep-alive agent, no authentication, no
 * header work, no logging. Forwards to BENCH_TARGET; runs as its own process and reports its port
 * over IPC.
 */
const target = process.env.BENCH_TARGET;
if (!target) throw new Error('BENCH_TARGET is required');

const proxy = createProxyServer({ target, agent: new http.Agent({ keepAlive: true }) });
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
