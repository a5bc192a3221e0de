import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { AccessModule } from '../access/access.module';
import { AuthModule } from '../auth/auth.module';
import { GATEWAY_CONFIG } from '../config/config.module';
import { GatewayConfig } from '../config/gateway-config';
import { HealthModule } from '../health/health.module';
import { OpenFaasModule } from '../openfaas/openfaas.module';
import { FunctionsResolver } from './functions.resolver';
import { FunctionsService } from './functions.service';
import { GatewayStatusResolver } from './gateway-status.resolver';
import { GatewayStatusService } from './gateway-status.service';
import { formatGraphqlError } from './graphql-error.formatter';
import { GraphqlRequestMiddleware } from './graphql-request.middleware';
import { JsonScalar } from './models/json.scalar';
import { queryLimitsRule } from './query-limits.rule';
import { TokenDiagnosticsResolver } from './token-diagnostics.resolver';
import { TokenDiagnosticsService } from './token-diagnostics.service';

export const GRAPHQL_PATH = '/graphql';
export const QUERY_LIMITS = { maxDepth: 8, maxFields: 200 };

/** Apollo settings; the schema test builds the schema from these too. */
export function graphqlOptions(config: GatewayConfig): ApolloDriverConfig {
  return {
    path: GRAPHQL_PATH,
    autoSchemaFile: true,
    sortSchema: true,
    resolvers: { JSON: JsonScalar },
    introspection: config.graphqlIntrospection,
    // With introspection off, validation errors carry no "Did you mean ...?" hints about the schema.
    hideSchemaDetailsFromClientErrors: !config.graphqlIntrospection,
    playground: false,
    plugins: [ApolloServerPluginLandingPageDisabled()],
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    validationRules: [queryLimitsRule(QUERY_LIMITS)],
    formatError: formatGraphqlError,
    context: ({ req, res }: { req: unknown; res: unknown }) => ({ req, res }),
  };
}

@Module({
  imports: [
    AuthModule,
    AccessModule,
    OpenFaasModule,
    HealthModule,
    GraphQLModule.forRootAsync<ApolloDriverConfig>({ driver: ApolloDriver, inject: [GATEWAY_CONFIG], useFactory: graphqlOptions }),
  ],
  providers: [
    GatewayStatusService,
    TokenDiagnosticsService,
    FunctionsService,
    GatewayStatusResolver,
    TokenDiagnosticsResolver,
    FunctionsResolver,
  ],
})
export class AdminModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(GraphqlRequestMiddleware).forRoutes({ path: GRAPHQL_PATH, method: RequestMethod.ALL });
  }
}
