import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { IncomingMessage } from 'node:http';
import { Strategy } from 'passport-jwt';
import { GatewayError } from '../common/gateway-error';
import { GATEWAY_CONFIG } from '../config/config.module';
import { GatewayConfig } from '../config/gateway-config';
import { extractBearerToken } from './bearer-token';
import { SigningKeysService } from './signing-keys.service';
import { TokenVerifierService } from './token-verifier.service';
import { VerifiedToken } from './verified-token';

/** Where the strategy leaves its findings on the request for the guard. */
export const AUTH_ERROR = Symbol('auth.error');
const VERIFIED = Symbol('auth.verified');

type AuthRequest = IncomingMessage & { [AUTH_ERROR]?: GatewayError; [VERIFIED]?: VerifiedToken };

/**
 * The passport-jwt strategy behind the global guard. Our verifier makes the decision (it adds
 * what jsonwebtoken leaves out: required exp, crit, embedded keys, exact audiences, size caps)
 * and supplies the key; passport-jwt then checks the signature, algorithm, issuer and times once
 * more with jsonwebtoken, so a token reaches a resolver only when both agree.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    verifier: TokenVerifierService,
    keys: SigningKeysService,
  ) {
    super({
      passReqToCallback: true,
      jwtFromRequest: (req: AuthRequest) => {
        try {
          return extractBearerToken(req.headers.authorization);
        } catch (err) {
          req[AUTH_ERROR] = err as GatewayError;
          return null;
        }
      },
      secretOrKeyProvider: (req: AuthRequest, rawToken: string, done: (err: unknown, key?: string) => void) => {
        verifier.verify(rawToken).then(
          (verified) => {
            const key = keys.peek(verified.kid)?.key;
            if (!key) {
              done(new GatewayError('invalid_token', 'the key that signed this token is no longer held', 'unknown_kid'));
              return;
            }
            req[VERIFIED] = verified;
            // jsonwebtoken takes a KeyObject where the typings say string.
            done(null, key as unknown as string);
          },
          (err: unknown) => {
            req[AUTH_ERROR] = err as GatewayError;
            done(err);
          },
        );
      },
      algorithms: [...config.algorithms],
      issuer: config.issuer,
      jsonWebTokenOptions: { clockTolerance: config.clockSkewMs / 1000 },
    });
  }

  validate(req: AuthRequest): VerifiedToken | false {
    return req[VERIFIED] ?? false;
  }
}
