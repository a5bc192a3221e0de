import { Module } from '@nestjs/common';
import { createRegistry, METRICS_REGISTRY } from './metrics.service';
import { MetricsServer } from './metrics-server';

@Module({
  providers: [{ provide: METRICS_REGISTRY, useFactory: createRegistry }, MetricsServer],
  exports: [MetricsServer, METRICS_REGISTRY],
})
export class ObservabilityModule {}
