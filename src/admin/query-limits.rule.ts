import { FragmentDefinitionNode, GraphQLError, Kind, SelectionSetNode, ValidationContext, ValidationRule } from 'graphql';

export interface QueryLimits {
  maxDepth: number;
  maxFields: number;
}

/**
 * Refuses operations nested deeper than maxDepth or selecting more than maxFields fields in
 * all (aliases and fragments counted where they are spread), before anything executes.
 * Introspection fields are not counted.
 */
export function queryLimitsRule({ maxDepth, maxFields }: QueryLimits): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    return {
      OperationDefinition(operation) {
        let fields = 0;
        let deepest = 0;
        const walk = (set: SelectionSetNode, depth: number, seen: Set<string>): void => {
          for (const selection of set.selections) {
            if (selection.kind === Kind.FIELD) {
              // Introspection (__schema, __type) is bounded by the schema itself and is only on
              // when graphql_introspection allows it: the standard query is deep, not costly.
              if (selection.name.value === '__schema' || selection.name.value === '__type') continue;
              fields++;
              deepest = Math.max(deepest, depth);
              if (selection.selectionSet && depth < maxDepth + 1 && fields <= maxFields) walk(selection.selectionSet, depth + 1, seen);
            } else if (selection.kind === Kind.INLINE_FRAGMENT) {
              walk(selection.selectionSet, depth, seen);
            } else {
              const name = selection.name.value;
              const fragment = fragments.get(name);
              if (fragment && !seen.has(name)) walk(fragment.selectionSet, depth, new Set(seen).add(name));
            }
          }
        };
        walk(operation.selectionSet, 1, new Set());
        if (deepest > maxDepth) {
          context.reportError(
            new GraphQLError(`Query is nested ${deepest} levels deep; at most ${maxDepth} are allowed.`, {
              nodes: [operation],
              extensions: { code: 'QUERY_TOO_COMPLEX' },
            }),
          );
        } else if (fields > maxFields) {
          context.reportError(
            new GraphQLError(`Query selects more than ${maxFields} fields; split it.`, {
              nodes: [operation],
              extensions: { code: 'QUERY_TOO_COMPLEX' },
            }),
          );
        }
      },
    };
  };
}
