import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { OpenFaasModule } from '../openfaas/openfaas.module';
import { ProxyService } from './proxy.service';

@Module({
  imports: [AuthModule, OpenFaasModule],
  providers: [ProxyService],
  exports: [ProxyService],
})
export class ProxyModule {}
