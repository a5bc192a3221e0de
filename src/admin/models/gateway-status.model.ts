import { Field, Float, GraphQLISODateTime, ObjectType } from '@nestjs/graphql';
import { IssuerStatus } from './issuer-status.model';
import { UpstreamStatus } from './upstream-status.model';

@ObjectType('GatewayStatus', { description: 'How this federated gateway is doing. Carries no secret.' })
export class GatewayStatus {
  @Field(() => String, { description: 'Version of the federated gateway.' })
  version!: string;

  @Field(() => GraphQLISODateTime, { description: 'When this process started.' })
  startedAt!: Date;

  @Field(() => Float, { description: 'Seconds since start.' })
  uptimeSeconds!: number;

  @Field(() => Boolean, { description: 'Whether /function/* and /async-function/* are forwarded (allow_invoke).' })
  allowInvoke!: boolean;

  @Field(() => UpstreamStatus, { description: 'The OpenFaaS gateway behind this one.' })
  upstream!: UpstreamStatus;

  @Field(() => IssuerStatus, { description: 'The first accepted identity provider (the environment\'s issuer when set) and the signing keys held.' })
  issuer!: IssuerStatus;

  @Field(() => [IssuerStatus], { description: 'Every accepted identity provider: the environment\'s issuer and the access file\'s JwtIssuers.' })
  issuers!: IssuerStatus[];
}
