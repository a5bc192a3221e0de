import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext } from '@nestjs/graphql';
import { AuthGuard } from '@nestjs/passport';
import type { IncomingMessage } from 'node:http';
import { IS_PUBLIC } from './public.decorator';
import { TokenVerifierService } from './token-verifier.service';
import { VerifiedToken } from './verified-token';

type AuthenticatedRequest = IncomingMessage & { user?: VerifiedToken };

/**
 * The global guard: every Nest route and every GraphQL operation needs a valid bearer token
 * unless marked @Public(). A request the /graphql door has already authenticated carries its
 * caller in `req.user` (passport's own field) and is not verified again; any other runs the
 * passport-jwt strategy. Failures surface as GatewayErrors, so each door answers alike.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifierService,
  ) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic === true) return true;
    if ((this.getRequest(context) as AuthenticatedRequest | undefined)?.user) return true;
    return super.canActivate(context);
  }

  override getRequest(context: ExecutionContext) {
    return context.getType<string>() === 'graphql' ? GqlExecutionContext.create(context).getContext().req : super.getRequest(context);
  }

  override handleRequest<T = VerifiedToken>(err: unknown, user: T | false, info: unknown, context: ExecutionContext): T {
    if (user) return user;
    throw this.verifier.refusal(err, info, (this.getRequest(context) as IncomingMessage | undefined)?.headers.authorization);
  }
}
