import { DynamicModule, Module } from '@nestjs/common';
import { AccessLog } from './access-log';
import type { AppLog } from './logger';
import { AuthModule } from '../auth/auth.module';
import { AuditService } from './audit.service';
import { createRegistry, METRICS_REGISTRY, MetricsService } from './metrics.service';
import { MetricsServer } from './metrics-server';
import { APP_LOGGER } from './observability.tokens';
import { RequestTracker } from './request-tracker.service';

@Module({})
export class ObservabilityModule {
  static forRoot(log: AppLog): DynamicModule {
    return {
      module: ObservabilityModule,
      global: true,
      imports: [AuthModule],
      providers: [
        { provide: APP_LOGGER, useValue: log.logger },
        { provide: AccessLog, useValue: new AccessLog(log) },
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
