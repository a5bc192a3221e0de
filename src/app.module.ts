import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { GatewayExceptionFilter } from './http/gateway-exception.filter';
import { ConfigModule } from './config/config.module';
import { GatewayConfig } from './config/gateway-config';
import { HealthModule } from './health/health.module';
import type { AppLog } from './observability/logger';
import { ObservabilityModule } from './observability/observability.module';
import { OpenFaasModule } from './openfaas/openfaas.module';
import { ProxyModule } from './proxy/proxy.module';

/** The composition root. */
@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig, log: AppLog): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), AuthModule, OpenFaasModule, ProxyModule, HealthModule, AdminModule, ObservabilityModule.forRoot(log)],
      providers: [{ provide: APP_FILTER, useClass: GatewayExceptionFilter }],
    };
  }
}
