import { Field, ObjectType } from '@nestjs/graphql';

@ObjectType('TokenCheck', { description: 'One check the gateway runs on every token.' })
export class TokenCheck {
  @Field(() => String, {
    description: 'format, algorithm, header, issuer, key, signature, expiry, not_before, issued_at or audience.',
  })
  name!: string;

  @Field(() => Boolean)
  passed!: boolean;

  @Field(() => String, { description: 'What was found, in words an operator can act on.' })
  detail!: string;
}
