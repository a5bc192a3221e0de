import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { IncomingMessage } from 'node:http';
import type { Jwt } from 'jsonwebtoken';
import { Strategy } from 'passport-jwt';
import { extractBearerToken } from './bearer-token';
import { TokenVerifierService } from './token-verifier.service';
import { VerifiedToken } from './verified-token';

/**
 * The passport-jwt strategy behind the global guard and the /graphql door. It verifies a token
 * once, with the verifier's steps in passport-jwt's three places: the key provider runs every
 * check up to the key (from the token's issuer's JWKS, through jwks-rsa), jsonwebtoken checks the
 * signature, exp and nbf with the verifier's options, and validate() adds what jsonwebtoken lacks.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(private readonly verifier: TokenVerifierService) {
    super({
      jwtFromRequest: tokenOrHeader,
      secretOrKeyProvider: (req: IncomingMessage, rawToken: string, done: (err: unknown, key?: string) => void) => {
        try {
          extractBearerToken(req.headers.authorization);
        } catch (err) {
          done(err);
          return;
        }
        verifier.keyFor(rawToken).then(
          // jsonwebtoken takes a KeyObject where the typings say string.
          (key) => done(null, key.key as unknown as string),
          (err: unknown) => done(err),
        );
      },
      algorithms: [...verifier.jwtOptions.algorithms!],
      jsonWebTokenOptions: verifier.jwtOptions,
    });
  }

  validate(verified: Jwt): VerifiedToken {
    return this.verifier.accept(verified);
  }
}

/** The bearer token, or the header as sent when it is none, so that the key provider refuses it with its own reason. */
function tokenOrHeader(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  try {
    return extractBearerToken(header);
  } catch {
    return header;
  }
}
