import { ANY_ACTION_INDEX, Action, RequiredAction, Resource, requiredActionIndex } from './access-actions';
import { GatewayError } from '../common/gateway-error';

/** A statement's resources, parsed once: `*`, `NS:*` or `NS:NAME`. */
export type GrantedResource = '*' | { readonly namespace: string; readonly name: string };

/** One held statement, reduced to what a decision needs. */
export interface HeldStatement {
  /** Indexes of the request actions it covers (see access-actions). */
  readonly actionIndexes: readonly number[];
  readonly resources: readonly GrantedResource[];
  /** "Function:List on dev:*" lines, as the file wrote the actions and resources. */
  readonly lines: readonly string[];
}

/** What one action is held on: everything, whole namespaces, or single names per namespace. */
interface ActionHolding {
  everywhere: boolean;
  readonly namespaces: Set<string>;
  readonly names: Map<string, Set<string>>;
}

const NO_NAMESPACES: ReadonlySet<string> = new Set();

/**
 * What one token may do, worked out once per verified token (from the Roles it matches) so that
 * each request is answered by a couple of lookups, without allocating.
 */
export class Grants {
  /** The grants of a token that matches no Role: nothing (deny by default). */
  static readonly NONE = new Grants([], []);

  readonly roles: readonly string[];
  private readonly byAction: ReadonlyArray<ActionHolding | undefined>;
  private readonly anyNamespaces: '*' | ReadonlySet<string>;
  private readonly lines: readonly string[];

  constructor(roles: readonly string[], statements: readonly HeldStatement[]) {
    this.roles = Object.freeze([...roles]);
    const byAction: Array<ActionHolding | undefined> = new Array(ANY_ACTION_INDEX + 1).fill(undefined);
    const anyNamespaces = new Set<string>();
    let anyEverywhere = false;
    const lines = new Set<string>();
    for (const statement of statements) {
      for (const line of statement.lines) lines.add(line);
      for (const index of statement.actionIndexes) {
        const holding = (byAction[index] ??= { everywhere: false, namespaces: new Set(), names: new Map() });
        for (const resource of statement.resources) {
          if (resource === '*') {
            holding.everywhere = anyEverywhere = true;
          } else if (resource.name === '*') {
            holding.namespaces.add(resource.namespace);
            anyNamespaces.add(resource.namespace);
          } else {
            let names = holding.names.get(resource.namespace);
            if (!names) holding.names.set(resource.namespace, (names = new Set<string>()));
            names.add(resource.name);
            anyNamespaces.add(resource.namespace);
          }
        }
      }
    }
    this.byAction = Object.freeze(byAction);
    this.anyNamespaces = anyEverywhere ? '*' : anyNamespaces;
    this.lines = Object.freeze([...lines]);
    Object.freeze(this);
  }

  /** Whether the action is held on NAMESPACE:NAME (`name` `*`: on the whole namespace, `NS:*`). */
  allows(action: RequiredAction, namespace: string, name: string): boolean {
    const holding = this.byAction[requiredActionIndex(action)];
    if (holding === undefined) return false;
    if (holding.everywhere || holding.namespaces.has(namespace)) return true;
    // `names` never holds `*` (NS:* is in `namespaces`), so NS:NAME grants never cover NS:*.
    return holding.names.get(namespace)?.has(name) === true;
  }

  /** Whether the action is held on the resource `*`, which only a `*` resource statement covers. */
  allowsEverywhere(action: RequiredAction): boolean {
    return this.byAction[requiredActionIndex(action)]?.everywhere === true;
  }

  allowsResource(action: RequiredAction, resource: Resource): boolean {
    return resource === '*' ? this.allowsEverywhere(action) : this.allows(action, resource.namespace, resource.name);
  }

  /** Whether the action is held on any resource at all (Namespace:List, whose answer is then filtered). */
  holdsAnywhere(action: RequiredAction): boolean {
    const holding = this.byAction[requiredActionIndex(action)];
    return holding !== undefined && (holding.everywhere || holding.namespaces.size > 0 || holding.names.size > 0);
  }

  /**
   * The namespaces in which the action is held namespace-wide (`NS:*`), or `*` for all: the
   * namespaces whose functions a Function:List without a namespace may show.
   */
  namespacesFor(action: Action): '*' | ReadonlySet<string> {
    const holding = this.byAction[requiredActionIndex(action)];
    if (holding === undefined) return NO_NAMESPACES;
    return holding.everywhere ? '*' : holding.namespaces;
  }

  /** The namespaces the token holds any action in (on `NS:*` or `NS:NAME`), or `*` for all. */
  anyActionNamespaces(): '*' | ReadonlySet<string> {
    return this.anyNamespaces;
  }

  /** What the token may do, one "Function:List on dev:*" line per action and resource as written. */
  describe(): string[] {
    return [...this.lines];
  }
}

/** The refusal of a request whose grants lack `action` on `resource`: one sentence for the 403 and GraphQL alike. */
export function forbidden(grants: Grants, action: RequiredAction, resource: string): GatewayError {
  const roles = grants.roles.length ? `its Roles (${grants.roles.join(', ')}) grant` : 'it matches no Role, so it holds';
  return new GatewayError('forbidden', `This token may not ${action} on ${resource}: ${roles} no statement covering it.`);
}
