import { Args, Query, Resolver } from '@nestjs/graphql';
import { TokenDiagnostics } from './models/token-diagnostics.model';
import { TokenDiagnosticsService } from './token-diagnostics.service';

@Resolver(() => TokenDiagnostics)
export class TokenDiagnosticsResolver {
  constructor(private readonly diagnostics: TokenDiagnosticsService) {}

  @Query(() => TokenDiagnostics, {
    description: 'Runs every check the gateway applies to a token and says which pass and why the others fail.',
  })
  tokenDiagnostics(@Args('token', { type: () => String, description: 'A compact JWT access token.' }) token: string): Promise<TokenDiagnostics> {
    return this.diagnostics.diagnose(token);
  }
}
