import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuthModule } from '../auth/auth.module';
import { AuditService } from './audit.service';
import { createRegistry, METRICS_REGISTRY, MetricsService } from './metrics.service';
import { MetricsServer } from './metrics-server';
import { APP_LOGGER } from './observability.tokens';
import { RequestTracker } from './request-tracker.service';

@Module({})
export class ObservabilityModule {
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: ObservabilityModule,
      global: true,
      imports: [AuthModule],
      providers: [
        { provide: APP_LOGGER, useValue: logger },
        { provide: METRICS_REGISTRY, useFactory: createRegistry },
        MetricsService,
        AuditService,
        RequestTracker,
        MetricsServer,
      ],
      exports: [APP_LOGGER, METRICS_REGISTRY, MetricsService, RequestTracker, MetricsServer],
    };
  }
}
