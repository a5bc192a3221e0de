import { Query, Resolver } from '@nestjs/graphql';
import { GatewayStatusService } from './gateway-status.service';
import { GatewayStatus } from './models/gateway-status.model';

@Resolver(() => GatewayStatus)
export class GatewayStatusResolver {
  constructor(private readonly status: GatewayStatusService) {}

  @Query(() => GatewayStatus, { description: 'Version, uptime, the OpenFaaS gateway behind, and the issuer and keys held.' })
  gatewayStatus(): Promise<GatewayStatus> {
    return this.status.status();
  }
}
