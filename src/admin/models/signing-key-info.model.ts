import { Field, ObjectType } from '@nestjs/graphql';

@ObjectType('SigningKeyInfo', { description: "A public key held from the issuer's JWKS (never any key material)." })
export class SigningKeyInfo {
  @Field(() => String, { nullable: true, description: 'Key id (kid), when the JWKS names one.' })
  kid!: string | null;

  @Field(() => String, { nullable: true, description: 'The algorithm the JWK pins (alg), if any.' })
  alg!: string | null;

  @Field(() => String, { description: 'Key type: RSA, EC or OKP.' })
  kty!: string;

  @Field(() => String, { nullable: true, description: 'Named curve of an EC key.' })
  curve!: string | null;
}
