import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext } from '@nestjs/graphql';
import { AuthGuard } from '@nestjs/passport';
import { GatewayError } from '../common/gateway-error';
import { AUTH_ERROR } from './jwt.strategy';
import { IS_PUBLIC } from './public.decorator';
import { VerifiedToken } from './verified-token';

/**
 * The global guard: every Nest route and every GraphQL operation needs a valid bearer token
 * unless marked @Public(). Failures surface as GatewayErrors, so each door answers alike.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    return isPublic === true || super.canActivate(context);
  }

  override getRequest(context: ExecutionContext) {
    return context.getType<string>() === 'graphql' ? GqlExecutionContext.create(context).getContext().req : super.getRequest(context);
  }

  override handleRequest<T = VerifiedToken>(err: unknown, user: T | false, info: unknown, context: ExecutionContext): T {
    if (user) return user;
    const stored = this.getRequest(context)?.[AUTH_ERROR];
    for (const candidate of [stored, err, info]) {
      if (candidate instanceof GatewayError) throw candidate;
    }
    const message = candidate(err) ?? candidate(info) ?? 'token could not be verified';
    throw new GatewayError('invalid_token', message, 'rejected');
  }
}

function candidate(value: unknown): string | undefined {
  return value instanceof Error ? value.message : undefined;
}
