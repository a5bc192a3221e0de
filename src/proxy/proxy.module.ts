import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { AuthModule } from '../auth/auth.module';
import { OpenFaasModule } from '../openfaas/openfaas.module';
import { ProxyService } from './proxy.service';

@Module({
  imports: [AuthModule, OpenFaasModule, AccessModule],
  providers: [ProxyService],
  exports: [ProxyService],
})
export class ProxyModule {}
