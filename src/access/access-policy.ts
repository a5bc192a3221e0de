import { coveredActionIndexes } from './access-actions';
import { AccessDocument, StatementSpec } from './access-file';
import { GrantedResource, Grants, HeldStatement } from './access-grants';
import { ClaimTest, Claims, compileClaimTest } from './claim-condition';

/**
 * Tokens with the same matched Roles and statements share one Grants; the bound keeps a flood of
 * distinct claim sets from growing the memo without end.
 */
export const MAX_SHARED_GRANTS = 1024;

interface CompiledStatement extends HeldStatement {
  readonly condition: ClaimTest | undefined;
}

interface CompiledRole {
  readonly name: string;
  readonly matches: ClaimTest;
  /** Indexes into the policy's statements, each statement once. */
  readonly statements: readonly number[];
}

/**
 * The Roles and Policies of an access file, compiled once (conditions, StringLike patterns,
 * resources), answering "what may this token do" with a Grants object per token.
 */
export class AccessPolicy {
  private readonly shared = new Map<string, Grants>();

  private constructor(
    private readonly roles: readonly CompiledRole[],
    private readonly statements: readonly CompiledStatement[],
  ) {}

  static compile(doc: AccessDocument): AccessPolicy {
    const statements: CompiledStatement[] = [];
    const statementsOf = new Map<string, number[]>();
    for (const policy of doc.policies) {
      statementsOf.set(
        policy.name,
        policy.statements.map((spec) => statements.push(compileStatement(spec)) - 1),
      );
    }
    const roles = doc.roles.map((role) => ({
      name: role.name,
      matches: compileClaimTest(role.principal, role.condition),
      // A Role naming an unknown Policy is refused by parseAccessFile; here it would grant nothing.
      statements: [...new Set(role.policies.flatMap((policy) => statementsOf.get(policy) ?? []))],
    }));
    return new AccessPolicy(roles, statements);
  }

  /** The Role names of the access file, in file order. */
  get roleNames(): string[] {
    return this.roles.map((role) => role.name);
  }

  /** What a token with these (verified) claims may do. Call once per token and keep the result with it. */
  grantsFor(claims: Claims): Grants {
    const roles: string[] = [];
    const held: number[] = [];
    const seen = new Uint8Array(this.statements.length);
    let key = '';
    for (let r = 0; r < this.roles.length; r++) {
      const role = this.roles[r];
      if (!role.matches(claims)) continue;
      roles.push(role.name);
      key += `${r},`;
      for (const s of role.statements) {
        if (seen[s]) continue;
        seen[s] = 1;
        const condition = this.statements[s].condition;
        if (condition === undefined || condition(claims)) held.push(s);
      }
    }
    if (roles.length === 0) return Grants.NONE;
    key += `|${held.join(',')}`;
    let grants = this.shared.get(key);
    if (grants === undefined) {
      grants = new Grants(
        roles,
        held.map((s) => this.statements[s]),
      );
      if (this.shared.size >= MAX_SHARED_GRANTS) this.shared.clear();
      this.shared.set(key, grants);
    }
    return grants;
  }
}

function compileStatement(spec: StatementSpec): CompiledStatement {
  const resources = spec.resources.map(parseResource);
  return {
    actionIndexes: [...new Set(spec.actions.flatMap(coveredActionIndexes))],
    resources,
    lines: spec.actions.flatMap((action) => spec.resources.map((resource) => `${action} on ${resource}`)),
    condition: spec.condition ? compileClaimTest(undefined, spec.condition) : undefined,
  };
}

/** `*`, `NS:*` or `NS:NAME` (parseAccessFile has checked the syntax). */
function parseResource(text: string): GrantedResource {
  if (text === '*') return '*';
  const colon = text.indexOf(':');
  return { namespace: text.slice(0, colon), name: text.slice(colon + 1) };
}
