import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { AccessService } from './access.service';

@Module({
  imports: [AuthModule],
  providers: [AccessService],
  exports: [AccessService],
})
export class AccessModule {}
