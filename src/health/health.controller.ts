import { Controller, Get, Header } from '@nestjs/common';
import { Public } from '../auth/public.decorator';
import { HealthService } from './health.service';

@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** Readiness for Kubernetes and `faas-cli ready`; GET and HEAD, no token. */
  @Public()
  @Get('healthz')
  @Header('Cache-Control', 'no-store')
  healthz() {
    return this.health.assertReady();
  }
}
