import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from './config/gateway-config';
import { startGateway } from './gateway';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`openfaas-federated-gateway: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const gateway = await startGateway(config);
  const logger = new Logger('Shutdown');
  const stop = (signal: string) => {
    logger.log(`${signal} received: draining for up to ${config.shutdownTimeoutMs / 1000}s`);
    gateway.close().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error(`shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`openfaas-federated-gateway: failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
