import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_FILTER } from '@nestjs/core';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { GatewayExceptionFilter } from './common/gateway-exception.filter';
import { ConfigModule } from './config/config.module';
import { GatewayConfig } from './config/gateway-config';
import { HealthModule } from './health/health.module';
import { ObservabilityModule } from './observability/observability.module';
import { OpenFaasModule } from './openfaas/openfaas.module';
import { ProxyModule } from './proxy/proxy.module';

/** The composition root. */
@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), AuthModule, OpenFaasModule, ProxyModule, HealthModule, AdminModule, ObservabilityModule.forRoot(logger)],
      providers: [{ provide: APP_FILTER, useClass: GatewayExceptionFilter }],
    };
  }
}
