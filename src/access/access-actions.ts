/** The actions of OpenFaaS IAM that a request can need, in a fixed order (their index is used for lookups). */
export const ACTIONS = [
  'Function:List',
  'Function:Get',
  'Function:Create',
  'Function:Update',
  'Function:Delete',
  'Function:Scale',
  'Function:Logs',
  'Function:Invoke',
  'Secret:List',
  'Secret:Create',
  'Secret:Update',
  'Secret:Delete',
  'Namespace:List',
  'Namespace:Get',
  'Namespace:Create',
  'Namespace:Update',
  'Namespace:Delete',
  'System:Info',
] as const;

export const WILDCARD_ACTIONS = ['Function:*', 'Secret:*', 'Namespace:*', '*'] as const;

/** Everything a Policy statement may name. */
export const STATEMENT_ACTIONS = [...ACTIONS, ...WILDCARD_ACTIONS] as const;

export type Action = (typeof ACTIONS)[number];
export type WildcardAction = (typeof WILDCARD_ACTIONS)[number];
export type StatementAction = (typeof STATEMENT_ACTIONS)[number];

/**
 * What a request needs: one of the actions, or `*` for a route the contract's table does not list
 * (only a statement naming the action `*` holds it).
 */
export type RequiredAction = Action | '*';

/**
 * What a request acts on: `*` (System:Info, Namespace:List, unlisted routes), or a namespace and a
 * name, where the name `*` is the namespace-wide resource (`NS:*`, e.g. Function:List).
 */
export type Resource = '*' | { readonly namespace: string; readonly name: string };

/** The resource as the access file and error messages spell it: `*`, `dev:*`, `dev:echo`. */
export function formatResource(resource: Resource): string {
  return resource === '*' ? '*' : `${resource.namespace}:${resource.name}`;
}

/** The request actions a statement action covers, by index into ACTIONS (ACTIONS.length stands for `*`). */
export function coveredActionIndexes(action: StatementAction): number[] {
  if (action === '*') return [...ACTIONS.keys(), ANY_ACTION_INDEX];
  if (action.endsWith(':*')) {
    const prefix = action.slice(0, -1);
    return ACTIONS.flatMap((a, i) => (a.startsWith(prefix) ? [i] : []));
  }
  return [ACTIONS.indexOf(action as Action)];
}

/** The index standing for the request action `*` (unlisted routes). */
export const ANY_ACTION_INDEX = ACTIONS.length;

const INDEX_OF = new Map<string, number>([...ACTIONS.map((a, i) => [a, i] as const), ['*', ANY_ACTION_INDEX]]);

/** The index of a request action, or -1 for a string that is none. */
export function requiredActionIndex(action: string): number {
  return INDEX_OF.get(action) ?? -1;
}
