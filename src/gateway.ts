import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import { AddressInfo } from 'node:net';
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
  const logger = createLogger({ encoding: config.logEncoding, debug: config.debug }, options.logDestination);
  if (options.silent) logger.level = 'silent';
  const app = await NestFactory.create(AppModule.forRoot(config, logger), {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });
  app.getHttpAdapter().getInstance().disable('x-powered-by');
  app.getHttpAdapter().getInstance().set('etag', false);
  const server = app.getHttpServer() as Server;
  configureServer(server, config);
  app.get(ProxyService).attach(server);
  await app.listen(config.port, options.host ?? '0.0.0.0');
  const metricsPort = await app.get(MetricsServer).listen(config.metricsPort, options.host);
  const port = (server.address() as AddressInfo).port;
  new Logger('Gateway').log(`listening on :${port}, forwarding to ${config.gatewayUrl.origin}`);
  let closing: Promise<void> | undefined;
  return {
    app,
    server,
    port,
    metricsPort,
    close: () => (closing ??= drainAndClose(app, server, config.shutdownTimeoutMs)),
  };
}

function configureServer(server: Server, config: GatewayConfig): void {
  server.requestTimeout = config.readTimeoutMs;
  server.headersTimeout = Math.min(config.readTimeoutMs, 60_000);
  // Idle time allowed before a response starts; the proxy lifts it once a response streams.
  server.timeout = config.writeTimeoutMs;
  server.keepAliveTimeout = 5_000;
}

async function drainAndClose(app: INestApplication, server: Server, graceMs: number): Promise<void> {
  const drained = new Promise<void>((resolve) => server.close(() => resolve()));
  // Connections kept alive go as soon as their current exchange ends.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
  await Promise.race([drained, deadline]);
  clearInterval(sweep);
  server.closeAllConnections();
  await app.close();
}
