import { Args, Context, Query, Resolver } from '@nestjs/graphql';
import type { CallerRequest } from '../auth/verified-token';
import { FunctionsService } from './functions.service';
import { FunctionSummary } from './models/function-summary.model';

@Resolver(() => FunctionSummary)
export class FunctionsResolver {
  constructor(private readonly catalog: FunctionsService) {}

  @Query(() => [FunctionSummary], { description: 'Functions deployed on the OpenFaaS gateway, in one namespace or its default.' })
  functions(
    @Context('req') req: CallerRequest,
    @Args('namespace', {
      type: () => String,
      nullable: true,
      description: 'Namespace; when omitted, the OpenFaaS default, or with an access file every namespace the token may list.',
    })
    namespace?: string,
  ): Promise<FunctionSummary[]> {
    return this.catalog.list(req.user, namespace ?? undefined);
  }

  @Query(() => [String], { description: 'Namespaces the OpenFaaS gateway manages functions in.' })
  namespaces(@Context('req') req: CallerRequest): Promise<string[]> {
    return this.catalog.namespaces(req.user);
  }
}
