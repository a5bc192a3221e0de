import { Field, GraphQLISODateTime, Int, ObjectType } from '@nestjs/graphql';
import { SigningKeyInfo } from './signing-key-info.model';

@ObjectType('IssuerStatus', { description: 'The identity provider whose tokens this gateway accepts, and the keys held from it.' })
export class IssuerStatus {
  @Field(() => String, { description: 'How logs and metrics name it: "env" for the issuer/audience variables, else its JwtIssuer name.' })
  name!: string;

  @Field(() => String, { description: 'The issuer, matched exactly against the iss claim.' })
  issuer!: string;

  @Field(() => [String], { description: 'Accepted audiences: a token passes if it carries any of them.' })
  audiences!: string[];

  @Field(() => [String], { description: 'Claims searched for an accepted audience (audience_claims).' })
  audienceClaims!: string[];

  @Field(() => [String], { description: 'Accepted signing algorithms.' })
  algorithms!: string[];

  @Field(() => String, { nullable: true, description: 'The JWKS URI in use (configured or discovered); null until discovery succeeds.' })
  jwksUri!: string | null;

  @Field(() => [SigningKeyInfo], { description: 'Signing keys currently held.' })
  keys!: SigningKeyInfo[];

  @Field(() => GraphQLISODateTime, { nullable: true, description: 'When the keys were last fetched successfully.' })
  lastRefreshedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'The error of the last key fetch, if it failed.' })
  lastError!: string | null;

  @Field(() => GraphQLISODateTime, { nullable: true, description: 'When the last failed key fetch happened.' })
  lastErrorAt!: Date | null;

  @Field(() => Int, { description: 'Key fetches attempted since start.' })
  fetches!: number;

  @Field(() => Int, { description: 'Key fetches that failed since start.' })
  failures!: number;
}
