import { Injectable, NestMiddleware } from '@nestjs/common';
import { json } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenVerifierService } from '../auth/token-verifier.service';
import { GatewayError, hasUnreadBody, toErrorResponse } from '../common/gateway-error';
import { setCaller, setFailure } from '../common/request-context';

/** Largest accepted /graphql request body; the proxied routes are never parsed at all. */
export const GRAPHQL_BODY_LIMIT = '64kb';

/**
 * The door of /graphql: POST only, a valid bearer token before any GraphQL work (so even
 * operations that touch no resolver are refused without one), and a JSON body parser with a
 * size limit that applies to this path alone.
 */
@Injectable()
export class GraphqlRequestMiddleware implements NestMiddleware {
  private readonly parse = json({ limit: GRAPHQL_BODY_LIMIT });

  constructor(private readonly verifier: TokenVerifierService) {}

  use(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return send(req, res, new GatewayError('method_not_allowed', 'The GraphQL API answers POST requests only.'));
    }
    let verdict;
    try {
      verdict = this.verifier.authenticate(req.headers.authorization, req.socket);
    } catch (err) {
      return send(req, res, err as GatewayError);
    }
    Promise.resolve(verdict).then(
      (caller) => {
        setCaller(req, caller);
        this.parse(req as never, res as never, (err?: { type?: string }) => {
          if (!err) return next();
          const tooLarge = err.type === 'entity.too.large';
          send(req, res, new GatewayError(tooLarge ? 'payload_too_large' : 'bad_request', tooLarge ? `The GraphQL request body is larger than ${GRAPHQL_BODY_LIMIT}.` : 'The GraphQL request body is not valid JSON.'));
        });
      },
      (err: unknown) => send(req, res, err instanceof GatewayError ? err : new GatewayError('unavailable', 'The gateway could not check this token right now; try again.')),
    );
  }
}

function send(req: IncomingMessage, res: ServerResponse, error: GatewayError): void {
  setFailure(req, error);
  const { status, headers, body } = toErrorResponse(error);
  if (hasUnreadBody(req)) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}
