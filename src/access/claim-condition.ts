import { Condition, ConditionOperator } from './access-file';

export type Claims = Readonly<Record<string, unknown>>;
/** A compiled condition: true when the token's claims meet every clause. */
export type ClaimTest = (claims: Claims) => boolean;

const CLAIM_PREFIX = 'jwt:';
/** The one claim that OAuth 2.0 (RFC 8693 §4.2) defines as a space-separated string of words. */
const SCOPE_CLAIM = 'scope';

interface Clause {
  readonly read: (claims: Claims) => unknown;
  readonly test: (value: unknown) => boolean;
}

/**
 * Compiles a principal (claim → exact values) and a condition (operator → claim → values) into
 * one test: every clause must hold (keys AND, values OR). Missing claims, values of the wrong
 * JSON type and empty strings never match.
 */
export function compileClaimTest(principal: Record<string, string[]> | undefined, condition: Condition | undefined): ClaimTest {
  const clauses: Clause[] = [];
  for (const [claim, values] of Object.entries(principal ?? {})) {
    clauses.push({ read: claimReader(claim), test: operatorTest('StringEqual', values) });
  }
  for (const [operator, claims] of Object.entries(condition ?? {}) as Array<[ConditionOperator, Record<string, string[]>]>) {
    for (const [claim, values] of Object.entries(claims)) {
      const read = claimReader(claim);
      const test = operatorTest(operator, values);
      // A space-separated scope string counts as the array of its words for ForAnyValue.
      const scope = operator.startsWith('ForAnyValue:') && claim === CLAIM_PREFIX + SCOPE_CLAIM;
      clauses.push({ read: scope ? (claims: Claims) => scopeWords(read(claims)) : read, test });
    }
  }
  if (clauses.length === 0) return () => true;
  return (claims) => {
    for (const clause of clauses) {
      if (!clause.test(clause.read(claims))) return false;
    }
    return true;
  };
}

/**
 * `jwt:<claim>`: the claim of exactly that name when the token has one (Auth0's namespaced claims
 * contain dots), else a dotted path into nested objects (`jwt:realm_access.roles`).
 */
export function claimReader(claim: string): (claims: Claims) => unknown {
  const name = claim.startsWith(CLAIM_PREFIX) ? claim.slice(CLAIM_PREFIX.length) : claim;
  const segments = name.split('.');
  // The cheap read first: most claims a condition names are absent or own properties.
  const own = (claims: Claims) => {
    const value = claims[name];
    return value !== undefined && Object.hasOwn(claims, name) ? value : undefined;
  };
  if (segments.length === 1) return own;
  return (claims) => {
    const literal = own(claims);
    if (literal !== undefined) return literal;
    let value: unknown = claims;
    for (const segment of segments) {
      if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, segment)) return undefined;
      value = (value as Record<string, unknown>)[segment];
    }
    return value;
  };
}

// Every Role conditioning on scope splits the same string of one token in a row: keep the last split.
let lastScope = '';
let lastWords: readonly string[] = [];

function scopeWords(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (value !== lastScope) {
    lastWords = value.split(' ').filter(Boolean);
    lastScope = value;
  }
  return lastWords;
}

function operatorTest(operator: ConditionOperator, values: readonly string[]): (value: unknown) => boolean {
  switch (operator) {
    case 'StringEqual': {
      const accepted = new Set(values);
      return (value) => typeof value === 'string' && value !== '' && accepted.has(value);
    }
    case 'StringEqualIgnoreCase': {
      const accepted = new Set(values.map((v) => v.toLowerCase()));
      return (value) => typeof value === 'string' && value !== '' && accepted.has(value.toLowerCase());
    }
    case 'StringLike': {
      const pattern = likePattern(values);
      return (value) => typeof value === 'string' && value !== '' && pattern.test(value);
    }
    case 'ForAnyValue:StringEqual': {
      const accepted = new Set(values);
      return (value) => anyString(value, (v) => accepted.has(v));
    }
    case 'ForAnyValue:StringLike': {
      const pattern = likePattern(values);
      return (value) => anyString(value, (v) => pattern.test(v));
    }
  }
}

/** Whether `value` is an array holding a non-empty string that passes `test`. */
function anyString(value: unknown, test: (v: string) => boolean): boolean {
  if (!Array.isArray(value)) return false;
  for (const v of value) {
    if (typeof v === 'string' && v !== '' && test(v)) return true;
  }
  return false;
}

/**
 * A matcher for a list of StringLike patterns: `*` any run of characters, `?` exactly one,
 * everything else literal, always the whole value. Plain values and `prefix*` (the usual forms)
 * skip the RegExp.
 */
export function likePattern(patterns: readonly string[]): { test(value: string): boolean } {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const others: string[] = [];
  for (const p of patterns) {
    const star = p.indexOf('*');
    if (!p.includes('?') && star === -1) exact.add(p);
    else if (!p.includes('?') && star === p.length - 1) prefixes.push(p.slice(0, -1));
    else others.push([...p].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'))).join(''));
  }
  const regex = others.length ? new RegExp(`^(?:${others.join('|')})$`, 'su') : undefined;
  return {
    test: (value) => exact.has(value) || prefixes.some((prefix) => value.startsWith(prefix)) || (regex !== undefined && regex.test(value)),
  };
}
