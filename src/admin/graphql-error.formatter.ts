import { unwrapResolverError } from '@apollo/server/errors';
import { Logger } from '@nestjs/common';
import { GraphQLError, GraphQLFormattedError } from 'graphql';
import { ERROR_CODES, GatewayError } from '../common/gateway-error';

const logger = new Logger('GraphQL');

/**
 * Maps resolver failures to GraphQL errors with a stable extensions.code; GatewayErrors keep
 * their one-sentence description, anything unexpected becomes a generic message (no stack).
 */
export function formatGraphqlError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof GatewayError) {
    return {
      message: original.description,
      path: formatted.path,
      extensions: { code: ERROR_CODES[original.code].graphql, reason: original.reason },
    };
  }
  // Apollo wraps validation errors in its own, overwriting the code a rule gave; keep the rule's.
  const ruleCode = original instanceof GraphQLError ? original.originalError instanceof GraphQLError ? original.originalError.extensions?.code : undefined : undefined;
  const code = (typeof ruleCode === 'string' ? ruleCode : (formatted.extensions?.code as string | undefined)) ?? 'INTERNAL_SERVER_ERROR';
  if (code === 'INTERNAL_SERVER_ERROR') {
    logger.error(`resolver failed: ${(original as Error)?.stack ?? String(original)}`);
    return { message: 'The gateway failed to resolve this field.', path: formatted.path, extensions: { code } };
  }
  return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code } };
}
