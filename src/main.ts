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
  const started = startGateway(config);
  const logger = new Logger('Shutdown');
  // Listening for the signals from the start: one that comes while the gateway still boots
  // (a pod deleted during a rollout) lets it finish booting, then drains nothing and exits 0.
  const stop = (signal: string) => {
    logger.log(`${signal} received: draining for up to ${config.shutdownTimeoutMs / 1000}s`);
    started
      .then((gateway) => gateway.close())
      .then(
        () => process.exit(0),
        (err: Error) => {
          logger.error(`shutdown failed: ${err.message}`);
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await started;
}

main().catch((err: Error) => {
  process.stderr.write(`openfaas-federated-gateway: failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
