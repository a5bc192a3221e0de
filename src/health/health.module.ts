import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { OpenFaasModule } from '../openfaas/openfaas.module';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';

@Module({
  imports: [AuthModule, OpenFaasModule],
  controllers: [HealthController],
  providers: [HealthService],
  exports: [HealthService],
})
export class HealthModule {}
