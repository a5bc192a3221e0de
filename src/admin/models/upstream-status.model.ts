import { Field, Float, ObjectType } from '@nestjs/graphql';

@ObjectType('UpstreamStatus', { description: 'The OpenFaaS gateway this gateway forwards to.' })
export class UpstreamStatus {
  @Field(() => String, { description: 'The OpenFaaS gateway URL (gateway_url).' })
  url!: string;

  @Field(() => Boolean, { description: 'Whether its /healthz answered 2xx.' })
  healthy!: boolean;

  @Field(() => Float, { nullable: true, description: 'Round trip of the /healthz probe in milliseconds; null when it failed.' })
  latencyMs!: number | null;

  @Field(() => String, { nullable: true, description: 'Provider name from /system/info, e.g. faas-netes.' })
  provider!: string | null;

  @Field(() => String, { nullable: true, description: 'Orchestration from /system/info, e.g. kubernetes.' })
  orchestration!: string | null;

  @Field(() => String, { nullable: true, description: 'OpenFaaS gateway release from /system/info.' })
  version!: string | null;

  @Field(() => String, { nullable: true, description: 'Why the probe or /system/info failed, if either did.' })
  error!: string | null;
}
