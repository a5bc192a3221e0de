import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import { GatewayConfig } from './config/gateway-config';
import { attachFrontDoor } from './http/front-door';
import { createLogger, PinoNestLogger } from './observability/logger';
import { MetricsServer } from './observability/metrics-server';
import { RequestTracker } from './observability/request-tracker.service';
import { ProxyService } from './proxy/proxy.service';

export interface RunningGateway {
  readonly app: INestApplication;
  readonly server: Server;
  readonly port: number;
  readonly metricsPort: number;
  /** Stops accepting, lets in-flight requests finish within shutdown_timeout, then closes everything. */
  close(): Promise<void>;
  /** Writes the log lines that wait in the buffer now (the demo, before it prints its banner). */
  flushLogs(): void;
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
 * main.ts, the demo and the end-to-end tests all start it through here.
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
  // After init, so that every request listener registered there (Express, Apollo's drain
  // tracking) sits behind the front door.
  await app.init();
  const proxy = app.get(ProxyService);
  attachFrontDoor(server, proxy, app.get(RequestTracker), config.writeTimeoutMs);
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
    close: () => (closing ??= drainAndClose(app, server, proxy, config.shutdownTimeoutMs).finally(() => log.flush())),
    flushLogs: () => log.flush(),
  };
}

function configureServer(server: Server, config: GatewayConfig): void {
  server.requestTimeout = config.readTimeoutMs;
  server.headersTimeout = Math.min(config.readTimeoutMs, 60_000);
  // No idle timer on every connection: upstream_timeout bounds the wait for a proxied response,
  // and requests Nest answers get write_timeout as their idle limit (the front door).
  server.timeout = 0;
  server.keepAliveTimeout = 5_000;
}

async function drainAndClose(app: INestApplication, server: Server, proxy: ProxyService, graceMs: number): Promise<void> {
  // Node keeps connections alive while the server closes; every response from now on says
  // Connection: close instead, so that no caller sends a request on a socket about to go.
  const closeAfterResponse = (_req: unknown, res: { setHeader(name: string, value: string): void }) => res.setHeader('connection', 'close');
  server.prependListener('request', closeAfterResponse);
  server.prependListener('checkContinue', closeAfterResponse);
  // Proxied exchanges in flight: their heads, still to come, say so too.
  proxy.closeConnectionsAfterResponses();
  const drained = new Promise<void>((resolve) => server.close(() => resolve()));
  // Connections idle at the signal go at once (server.close); this catches any that go idle later.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
  await Promise.race([drained, deadline]);
  clearInterval(sweep);
  // Whatever is left (a followed log, a slow call) is cut.
  server.closeAllConnections();
  await app.close();
}
