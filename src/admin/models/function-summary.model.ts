import { Field, Float, GraphQLISODateTime, Int, ObjectType } from '@nestjs/graphql';
import { JsonScalar } from './json.scalar';

@ObjectType('FunctionSummary', { description: 'A function deployed on the OpenFaaS gateway behind this one.' })
export class FunctionSummary {
  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  namespace!: string | null;

  @Field(() => String, { nullable: true })
  image!: string | null;

  @Field(() => Int, { nullable: true, description: 'Desired replicas.' })
  replicas!: number | null;

  @Field(() => Int, { nullable: true, description: 'Replicas ready to serve.' })
  availableReplicas!: number | null;

  @Field(() => Float, { nullable: true, description: 'Invocations counted by OpenFaaS.' })
  invocationCount!: number | null;

  @Field(() => JsonScalar, { nullable: true, description: 'Labels as a string map.' })
  labels!: Record<string, string> | null;

  @Field(() => JsonScalar, { nullable: true, description: 'Annotations as a string map.' })
  annotations!: Record<string, string> | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  createdAt!: Date | null;
}
