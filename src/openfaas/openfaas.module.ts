import { Module } from '@nestjs/common';
import { OpenFaasClient } from './openfaas-client.service';
import { UpstreamCredentialsService } from './upstream-credentials.service';

@Module({
  providers: [UpstreamCredentialsService, OpenFaasClient],
  exports: [UpstreamCredentialsService, OpenFaasClient],
})
export class OpenFaasModule {}
