import { Injectable, NestMiddleware } from '@nestjs/common';
import { json } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import passport from 'passport';
import { TokenVerifierService } from '../auth/token-verifier.service';
import type { VerifiedToken } from '../auth/verified-token';
import { GatewayError, hasUnreadBody, toErrorResponse } from '../common/gateway-error';
import { noteFailure } from '../observability/request-tracker.service';

/** Largest accepted /graphql request body; the proxied routes are never parsed at all. */
export const GRAPHQL_BODY_LIMIT = '64kb';

/**
 * The door of /graphql, ahead of Apollo: POST only, then the passport-jwt strategy verifies the
 * bearer token once (so even operations that touch no resolver are refused without one; the
 * global guard then finds the caller in req.user), then a JSON body parser with a size limit
 * that applies to this path alone.
 */
@Injectable()
export class GraphqlRequestMiddleware implements NestMiddleware {
  private readonly parse = json({ limit: GRAPHQL_BODY_LIMIT });

  constructor(private readonly verifier: TokenVerifierService) {}

  use(req: IncomingMessage & { user?: VerifiedToken }, res: ServerResponse, next: (error?: unknown) => void): void {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return send(req, res, new GatewayError('method_not_allowed', 'The GraphQL API answers POST requests only.'));
    }
    const authenticate = passport.authenticate('jwt', { session: false }, (err: unknown, user: VerifiedToken | false, info: unknown) => {
      if (!user) return send(req, res, this.verifier.refusal(err, info, req.headers.authorization));
      req.user = user;
      this.parse(req as never, res as never, (parseError?: { type?: string }) => {
        if (!parseError) return next();
        const tooLarge = parseError.type === 'entity.too.large';
        send(req, res, new GatewayError(tooLarge ? 'payload_too_large' : 'bad_request', tooLarge ? `The GraphQL request body is larger than ${GRAPHQL_BODY_LIMIT}.` : 'The GraphQL request body is not valid JSON.'));
      });
    }) as (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
    authenticate(req, res, next);
  }
}

function send(req: IncomingMessage, res: ServerResponse, error: GatewayError): void {
  noteFailure(req, error);
  const { status, headers, body } = toErrorResponse(error);
  if (hasUnreadBody(req)) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}
