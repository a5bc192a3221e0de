import { Args, Query, Resolver } from '@nestjs/graphql';
import { FunctionsService } from './functions.service';
import { FunctionSummary } from './models/function-summary.model';

@Resolver(() => FunctionSummary)
export class FunctionsResolver {
  constructor(private readonly catalog: FunctionsService) {}

  @Query(() => [FunctionSummary], { description: 'Functions deployed on the OpenFaaS gateway, in one namespace or its default.' })
  functions(
    @Args('namespace', { type: () => String, nullable: true, description: 'Namespace; the OpenFaaS default when omitted.' }) namespace?: string,
  ): Promise<FunctionSummary[]> {
    return this.catalog.list(namespace ?? undefined);
  }

  @Query(() => [String], { description: 'Namespaces the OpenFaaS gateway manages functions in.' })
  namespaces(): Promise<string[]> {
    return this.catalog.namespaces();
  }
}
