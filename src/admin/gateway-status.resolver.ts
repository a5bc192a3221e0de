import { Context, Query, Resolver } from '@nestjs/graphql';
import type { CallerRequest } from '../auth/verified-token';
import { GatewayStatusService } from './gateway-status.service';
import { GatewayStatus } from './models/gateway-status.model';

@Resolver(() => GatewayStatus)
export class GatewayStatusResolver {
  constructor(private readonly status: GatewayStatusService) {}

  @Query(() => GatewayStatus, { description: 'Version, uptime, the OpenFaaS gateway behind, and the issuers and keys held (System:Info under an access file).' })
  gatewayStatus(@Context('req') req: CallerRequest): Promise<GatewayStatus> {
    return this.status.status(req.user);
  }
}
