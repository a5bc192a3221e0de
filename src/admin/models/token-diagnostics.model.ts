import { Field, GraphQLISODateTime, Int, ObjectType } from '@nestjs/graphql';
import { JsonScalar } from './json.scalar';
import { TokenAccess } from './token-access.model';
import { TokenCheck } from './token-check.model';

@ObjectType('TokenDiagnostics', {
  description: 'Every check the gateway would run on a token, each with its outcome. The token itself is never echoed.',
})
export class TokenDiagnostics {
  @Field(() => Boolean, { description: 'Whether the REST passthrough would accept this token now.' })
  valid!: boolean;

  @Field(() => String, { nullable: true, description: 'Stable code of the first failed check (e.g. expired, wrong_audience).' })
  reason!: string | null;

  @Field(() => String, { nullable: true, description: 'The error_description a 401 would carry.' })
  description!: string | null;

  @Field(() => [TokenCheck], { description: 'Every check, in the order the gateway runs them.' })
  checks!: TokenCheck[];

  @Field(() => String, { nullable: true, description: 'sub claim.' })
  subject!: string | null;

  @Field(() => String, { nullable: true, description: 'The calling client: azp, client_id, appid or cid.' })
  clientId!: string | null;

  @Field(() => String, { nullable: true, description: 'iss claim, when it is a string.' })
  issuer!: string | null;

  @Field(() => [String], { description: 'aud claim as a list (string entries only).' })
  audiences!: string[];

  @Field(() => GraphQLISODateTime, { nullable: true, description: 'exp claim as a time, when it is a number.' })
  expiresAt!: Date | null;

  @Field(() => Int, { nullable: true, description: 'Seconds until exp; negative once expired.' })
  expiresInSeconds!: number | null;

  @Field(() => JsonScalar, { nullable: true, description: 'The decoded JOSE header.' })
  header!: Record<string, unknown> | null;

  @Field(() => JsonScalar, { nullable: true, description: 'The decoded claims (unverified when the token is invalid).' })
  claims!: Record<string, unknown> | null;

  @Field(() => TokenAccess, { nullable: true, description: 'What the token may do (its Roles and their statements); null when it is invalid.' })
  access!: TokenAccess | null;
}
