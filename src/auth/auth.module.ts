import { Module, OnApplicationBootstrap } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { SigningKeysService } from './signing-keys.service';
import { TokenVerifierService } from './token-verifier.service';

@Module({
  imports: [PassportModule],
  providers: [SigningKeysService, TokenVerifierService, JwtStrategy, { provide: APP_GUARD, useClass: JwtAuthGuard }],
  exports: [SigningKeysService, TokenVerifierService],
})
export class AuthModule implements OnApplicationBootstrap {
  constructor(private readonly keys: SigningKeysService) {}

  onApplicationBootstrap(): void {
    void this.keys.start();
  }
}
