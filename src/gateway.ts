import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { AppModule } from './app.module';
import { GatewayConfig } from './config/gateway-config';
import type { DestinationStream } from 'pino';
import { createLogger, PinoNestLogger } from './observability/logger';
import { MetricsServer } from './observability/metrics-server';
import { ProxyService } from './proxy/proxy.service';

export interface RunningGateway {
  readonly app: INestApplication;
  readonly server: Server;
  readonly port: number;
  readonly metricsPort: number;
  /** Stops accepting, lets in-flight requests finish within shutdown_timeout, then closes everything. */
  close(): Promise<void>;
}

export interface StartOptions {
  host?: string;
  /** Where log lines go (default stdout); tests pass a stream to read them. */
  logDestination?: DestinationStream;
  /** No logging at all. */
  silent?: boolean;
}

/**
 * Builds and starts the gateway on config.port and config.metricsPort (0 picks free ports).
 * main.ts and the end-to-end tests both start it through here.
 */
export async function startGateway(config: GatewayConfig, options: StartOptions = {}): Promise<RunningGateway> {
  const log = createLogger({ encoding: config.logEncoding, debug: config.debug }, options.logDestination);
  if (options.silent) log.logger.level = 'silent';
  const app = await NestFactory.create(AppModule.forRoot(config, log), {
    bodyParser: false,
    logger: new PinoNestLogger(log.logger),
    abortOnError: false,
  });
  app.getHttpAdapter().getInstance().disable('x-powered-by');
  app.getHttpAdapter().getInstance().set('etag', false);
  const server = app.getHttpServer() as Server;
  configureServer(server, config);
  const connections = trackConnections(server);
  // After init, so that every request listener registered there (Express, Apollo's drain
  // tracking) sits behind the passthrough and costs proxied requests nothing.
  await app.init();
  app.get(ProxyService).attach(server);
  // No host: every address, IPv4 and IPv6 (a dual-stack cluster reaches it either way).
  await (options.host === undefined ? app.listen(config.port) : app.listen(config.port, options.host));
  const metricsPort = await app.get(MetricsServer).listen(config.metricsPort, options.host);
  const port = (server.address() as AddressInfo).port;
  new Logger('Gateway').log(`listening on :${port}, forwarding to ${config.gatewayUrl.origin}`);
  let closing: Promise<void> | undefined;
  return {
    app,
    server,
    port,
    metricsPort,
    close: () => (closing ??= drainAndClose(app, server, connections, config.shutdownTimeoutMs).finally(() => log.end())),
  };
}

function configureServer(server: Server, config: GatewayConfig): void {
  server.requestTimeout = config.readTimeoutMs;
  server.headersTimeout = Math.min(config.readTimeoutMs, 60_000);
  // No idle timer on every connection: node:http would re-arm it on each read and write of every
  // proxied exchange, where upstream_timeout already bounds the wait for a response. Requests
  // Nest answers get write_timeout as their idle limit when they start (ProxyService.attach).
  server.timeout = 0;
  server.keepAliveTimeout = 5_000;
}

/** The open connections of the public listener (a set entry per connection, nothing per request). */
function trackConnections(server: Server): Set<Socket> {
  const connections = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  return connections;
}

/** The response a connection is serving now (node:http keeps it on the socket). */
type ServingSocket = Socket & { _httpMessage?: ServerResponse | null };

function closeAfterResponse(_req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
}

async function drainAndClose(app: INestApplication, server: Server, connections: Set<Socket>, graceMs: number): Promise<void> {
  // Node keeps connections alive while the server closes; every response from now on says
  // Connection: close instead, so that no caller sends a request on a socket about to go.
  server.prependListener('request', closeAfterResponse);
  server.prependListener('checkContinue', closeAfterResponse);
  for (const socket of connections) {
    const res = (socket as ServingSocket)._httpMessage;
    if (res && !res.headersSent) res.shouldKeepAlive = false;
  }
  const drained = new Promise<void>((resolve) => server.close(() => resolve()));
  // Connections idle at the signal go at once (server.close); this catches any that go idle later.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
  await Promise.race([drained, deadline]);
  clearInterval(sweep);
  server.closeAllConnections();
  await app.close();
}
