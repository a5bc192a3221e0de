import { Field, ObjectType } from '@nestjs/graphql';

@ObjectType('TokenAccess', { description: 'What a valid token may do under the access file in force.' })
export class TokenAccess {
  @Field(() => [String], { description: 'The Roles of the access file the token matches (empty without an access file).' })
  roles!: string[];

  @Field(() => [String], {
    description: 'What the token may do, one "ACTION on RESOURCE" per statement (e.g. "Function:List on dev:*"); "* on *" without an access file.',
  })
  actions!: string[];
}
