import http from 'node:http';
import { AddressInfo } from 'node:net';
import { createProxyServer } from 'http-proxy';

/**
 * The floor for this stack: a bare http-proxy with a keep-alive agent, no authentication, no
 * header work, no logging. Forwards to BENCH_TARGET; runs as its own process and reports its port
 * over IPC.
 *
 * With BENCH_APP_ENV (the gateway's environment as JSON), the same floor also starts the whole
 * gateway application in its process and leaves it idle (npm run bench:cpu): what the weight of
 * the application alone costs node's own request handling.
 */
async function main(): Promise<void> {
  const target = process.env.BENCH_TARGET;
  if (!target) throw new Error('BENCH_TARGET is required');
  if (process.env.BENCH_APP_ENV) await startIdleGateway(JSON.parse(process.env.BENCH_APP_ENV) as Record<string, string>);
  const proxy = createProxyServer({ target, agent: new http.Agent({ keepAlive: true }) });
  proxy.on('error', (_err, _req, res) => {
    if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
  });
  const server = http.createServer((req, res) => proxy.web(req, res));
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
}

/** Loaded only when asked for: the plain floor must not carry the application's modules. */
async function startIdleGateway(env: Record<string, string>): Promise<void> {
  await import('reflect-metadata');
  const { loadConfig } = await import('../src/config/gateway-config');
  const { startGateway } = await import('../src/gateway');
  await startGateway(loadConfig(env), { silent: true });
}

process.on('disconnect', () => process.exit(0));
main().catch((err: Error) => {
  console.error(`floor failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
