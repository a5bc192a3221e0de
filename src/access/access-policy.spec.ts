import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AccessDocument, Condition, PolicySpec, RoleSpec } from './access-file';
import { Grants } from './access-grants';
import { AccessPolicy } from './access-policy';
import { Claims } from './claim-condition';

const ALL: PolicySpec = { name: 'all', statements: [{ sid: 'all', actions: ['*'], resources: ['*'] }] };

/** One Role with this condition granting everything: does the condition hold for these claims? */
function holds(condition: Condition, claims: Claims, principal?: Record<string, string[]>): boolean {
  const role: RoleSpec = { name: 'r', policies: ['all'], condition, ...(principal ? { principal } : {}) };
  const grants = AccessPolicy.compile({ issuers: [], roles: [role], policies: [ALL] }).grantsFor(claims);
  assert.equal(grants.allowsEverywhere('System:Info'), grants.roles.length === 1, 'a matched Role grants, an unmatched one does not');
  return grants.roles.length === 1;
}

describe(AccessPolicy.name, () => {
  describe('operators', () => {
    // Each row: operator, accepted values, then claims that match and claims that do not.
    const cases: Array<{ op: keyof Condition; values: string[]; yes: unknown[]; no: unknown[] }> = [
      { op: 'StringEqual', values: ['ci', 'cd'], yes: ['ci', 'cd'], no: ['CI', 'c', 'ci ', '', 5, true, null, { ci: 1 }, ['ci']] },
      { op: 'StringEqualIgnoreCase', values: ['CI-Bot'], yes: ['ci-bot', 'CI-BOT', 'Ci-Bot'], no: ['ci_bot', 'ci-bot2', '', 0, ['ci-bot'], {}] },
      {
        op: 'StringLike',
        values: ['ci-*', 'job-??', 'a.b'],
        yes: ['ci-', 'ci-deploy', 'ci-a/b\nc', 'job-42', 'a.b'],
        no: ['xci-deploy', 'CI-deploy', 'job-4', 'job-421', 'aXb', '', 1, ['ci-x'], { 'ci-x': 1 }],
      },
      { op: 'ForAnyValue:StringEqual', values: ['admin'], yes: [['admin'], ['x', 'admin'], [5, 'admin']], no: [[], ['Admin'], [''], 'admin', ['admin '], [['admin']], 1, { 0: 'admin' }] },
      { op: 'ForAnyValue:StringLike', values: ['team-*'], yes: [['team-a'], ['x', 'team-'], [null, 'team-b']], no: [[], ['TEAM-a'], 'team-a', [''], [{}], 3] },
    ];
    for (const { op, values, yes, no } of cases) {
      it(`${op}: matches only what it should; wrong types, empty strings and missing claims match nothing`, () => {
        for (const value of yes) assert.equal(holds({ [op]: { 'jwt:grp': values } }, { grp: value }), true, JSON.stringify(value));
        for (const value of no) assert.equal(holds({ [op]: { 'jwt:grp': values } }, { grp: value }), false, JSON.stringify(value));
        assert.equal(holds({ [op]: { 'jwt:grp': values } }, { other: yes[0] }), false, 'missing claim');
      });
    }

    it('StringLike with only "*" still refuses an empty string (also in arrays), and never matches across alternatives unanchored', () => {
      assert.equal(holds({ StringLike: { 'jwt:azp': ['*'] } }, { azp: 'anything' }), true);
      assert.equal(holds({ StringLike: { 'jwt:azp': ['*'] } }, { azp: '' }), false);
      assert.equal(holds({ 'ForAnyValue:StringLike': { 'jwt:groups': ['*'] } }, { groups: ['', 5] }), false);
      assert.equal(holds({ 'ForAnyValue:StringLike': { 'jwt:groups': ['*'] } }, { groups: ['', 'a'] }), true);
      assert.equal(holds({ StringLike: { 'jwt:azp': ['a', 'b'] } }, { azp: 'ab' }), false);
      assert.equal(holds({ StringLike: { 'jwt:azp': ['(a|b)+[x]'] } }, { azp: 'aab' }), false, 'regex syntax is literal');
      assert.equal(holds({ StringLike: { 'jwt:azp': ['(a|b)+[x]'] } }, { azp: '(a|b)+[x]' }), true);
    });

    it('ForAnyValue counts a space-separated scope string as its words; String operators take it whole', () => {
      const read = { 'ForAnyValue:StringEqual': { 'jwt:scope': ['openfaas:read'] } };
      assert.equal(holds(read, { scope: 'openid openfaas:read  profile' }), true);
      assert.equal(holds(read, { scope: ['openfaas:read'] }), true);
      assert.equal(holds(read, { scope: 'openid openfaas:readwrite' }), false);
      assert.equal(holds(read, { scope: '' }), false);
      assert.equal(holds({ 'ForAnyValue:StringLike': { 'jwt:scope': ['openfaas:*'] } }, { scope: 'openid openfaas:write' }), true);
      assert.equal(holds({ StringEqual: { 'jwt:scope': ['openfaas:read'] } }, { scope: 'openid openfaas:read' }), false);
      // Only scope is split: another string claim is not an array.
      assert.equal(holds({ 'ForAnyValue:StringEqual': { 'jwt:groups': ['a'] } }, { groups: 'a b' }), false);
    });
  });

  describe('claims', () => {
    it('follows a dotted path into nested objects', () => {
      const admins = { 'ForAnyValue:StringEqual': { 'jwt:realm_access.roles': ['admin'] } };
      assert.equal(holds(admins, { realm_access: { roles: ['user', 'admin'] } }), true);
      assert.equal(holds(admins, { realm_access: { roles: ['user'] } }), false);
      assert.equal(holds(admins, { realm_access: [{ roles: ['admin'] }] }), false, 'arrays are not walked');
      assert.equal(holds(admins, { realm_access: 'roles' }), false);
      assert.equal(holds(admins, {}), false);
      assert.equal(holds({ StringEqual: { 'jwt:a.b.c': ['x'] } }, { a: { b: { c: 'x' } } }), true);
      assert.equal(holds({ StringEqual: { 'jwt:a.b.c': ['x'] } }, { a: { b: { c: { d: 'x' } } } }), false);
    });

    it('prefers a claim whose own name contains the dots (Auth0 namespaced claims)', () => {
      const cond = { 'ForAnyValue:StringEqual': { 'jwt:https://example.com/roles': ['deployer'] } };
      assert.equal(holds(cond, { 'https://example.com/roles': ['deployer'] }), true);
      assert.equal(holds(cond, { 'https://example.com/roles': ['viewer'] }), false);
      const dotted = { StringEqual: { 'jwt:realm_access.roles': ['lit'] } };
      assert.equal(holds(dotted, { 'realm_access.roles': 'lit', realm_access: { roles: 'nested' } }), true);
      assert.equal(holds(dotted, { 'realm_access.roles': 5, realm_access: { roles: 'lit' } }), false, 'the literal claim wins even when mistyped');
    });

    it('never reads inherited properties', () => {
      assert.equal(holds({ StringLike: { 'jwt:constructor.name': ['*'] } }, {}), false);
      assert.equal(holds({ StringLike: { 'jwt:toString': ['*'] } }, {}), false);
    });
  });

  describe('roles', () => {
    it('needs principal and condition both, keys ANDed and values ORed', () => {
      const principal = { 'jwt:sub': ['alice', 'bob'] };
      const condition: Condition = { StringEqual: { 'jwt:iss': ['https://idp'], 'jwt:azp': ['cli'] } };
      assert.equal(holds(condition, { sub: 'bob', iss: 'https://idp', azp: 'cli' }, principal), true);
      assert.equal(holds(condition, { sub: 'carol', iss: 'https://idp', azp: 'cli' }, principal), false, 'principal fails');
      assert.equal(holds(condition, { sub: 'alice', iss: 'https://other', azp: 'cli' }, principal), false, 'condition fails');
      assert.equal(holds(condition, { sub: 'alice', iss: 'https://idp' }, principal), false, 'one key of the condition missing');
      assert.equal(holds(condition, { sub: ['alice'], iss: 'https://idp', azp: 'cli' }, principal), false, 'principal is exact strings');
    });

    it('denies everything to a token that matches no Role', () => {
      const policy = AccessPolicy.compile({
        issuers: [],
        roles: [{ name: 'admins', policies: ['all'], principal: { 'jwt:sub': ['root'] } }],
        policies: [ALL],
      });
      const grants = policy.grantsFor({ sub: 'someone' });
      assert.equal(grants, Grants.NONE);
      assert.deepEqual(grants.roles, []);
      assert.equal(grants.allowsEverywhere('*'), false);
      assert.equal(grants.allows('Function:List', 'openfaas-fn', '*'), false);
      assert.equal(grants.holdsAnywhere('Namespace:List'), false);
      assert.deepEqual([...(grants.anyActionNamespaces() as ReadonlySet<string>)], []);
      assert.deepEqual(grants.describe(), []);
      assert.equal(AccessPolicy.compile({ issuers: [], roles: [], policies: [] }).grantsFor({ sub: 'x' }).allowsEverywhere('*'), false);
    });
  });

  describe('grants', () => {
    const doc: AccessDocument = {
      issuers: [],
      policies: [
        {
          name: 'dev',
          statements: [
            { sid: 'fns', actions: ['Function:*'], resources: ['dev:*'] },
            { sid: 'one-secret', actions: ['Secret:Update'], resources: ['staging:db'] },
            { sid: 'ci-only', actions: ['Function:Invoke'], resources: ['prod:echo'], condition: { StringLike: { 'jwt:azp': ['ci-*'] } } },
          ],
        },
        { name: 'read', statements: [{ sid: 'r', actions: ['Function:List', 'System:Info', 'Namespace:List'], resources: ['*'] }] },
        { name: 'ns', statements: [{ sid: 'n', actions: ['Namespace:*', 'Secret:*'], resources: ['team-a:*'] }] },
      ],
      roles: [
        { name: 'developers', policies: ['dev'], condition: { 'ForAnyValue:StringEqual': { 'jwt:groups': ['dev'] } } },
        { name: 'readers', policies: ['read'], condition: { 'ForAnyValue:StringEqual': { 'jwt:groups': ['read'] } } },
        { name: 'team-a', policies: ['ns', 'dev'], condition: { 'ForAnyValue:StringEqual': { 'jwt:groups': ['team-a'] } } },
        { name: 'admins', policies: ['all', 'read'], condition: { 'ForAnyValue:StringEqual': { 'jwt:groups': ['admin'] } } },
      ],
    };
    const policy = AccessPolicy.compile({ ...doc, policies: [...doc.policies, ALL] });

    it('covers NS:* for any name and the namespace-wide resource, NS:NAME only that name, * only with a * resource', () => {
      const g = policy.grantsFor({ groups: ['dev'] });
      assert.deepEqual(g.roles, ['developers']);
      assert.equal(g.allows('Function:Delete', 'dev', 'echo'), true);
      assert.equal(g.allows('Function:List', 'dev', '*'), true);
      assert.equal(g.allows('Function:List', 'prod', '*'), false);
      assert.equal(g.allows('Secret:Update', 'staging', 'db'), true);
      assert.equal(g.allows('Secret:Update', 'staging', 'db2'), false);
      assert.equal(g.allows('Secret:Update', 'staging', '*'), false, 'NS:NAME does not cover NS:*');
      assert.equal(g.allows('Secret:Delete', 'staging', 'db'), false);
      assert.equal(g.allowsEverywhere('Function:List'), false, 'NS:* does not cover *');
      assert.equal(g.allowsResource('Function:Get', { namespace: 'dev', name: 'x' }), true);
      assert.equal(g.allowsResource('Function:Get', '*'), false);
      assert.equal(g.allows('*', 'dev', 'x'), false, 'Function:* is not the action *');
      assert.equal(g.allows('Namespace:Get', 'dev', '*'), false, 'Function:* covers no Namespace action');
    });

    it('expands wildcard actions by family, and * to every action including unlisted routes', () => {
      const g = policy.grantsFor({ groups: ['team-a'] });
      for (const action of ['Namespace:List', 'Namespace:Get', 'Namespace:Create', 'Namespace:Update', 'Namespace:Delete', 'Secret:List', 'Secret:Delete'] as const) {
        assert.equal(g.allows(action, 'team-a', '*'), true, action);
      }
      assert.equal(g.allows('System:Info', 'team-a', '*'), false);
      const admin = policy.grantsFor({ groups: ['admin'] });
      assert.equal(admin.allowsEverywhere('*'), true);
      assert.equal(admin.allowsEverywhere('Function:Scale'), true);
      assert.equal(admin.allows('Secret:Create', 'any', 'thing'), true);
    });

    it('holds a statement with a condition only for tokens that meet it', () => {
      assert.equal(policy.grantsFor({ groups: ['dev'], azp: 'ci-main' }).allows('Function:Invoke', 'prod', 'echo'), true);
      assert.equal(policy.grantsFor({ groups: ['dev'], azp: 'laptop' }).allows('Function:Invoke', 'prod', 'echo'), false);
      assert.equal(policy.grantsFor({ groups: ['dev'] }).allows('Function:Invoke', 'prod', 'echo'), false);
      assert.equal(policy.grantsFor({ groups: ['dev'], azp: 'laptop' }).allows('Function:Invoke', 'dev', 'echo'), true);
    });

    it('unites the statements of every matched Role', () => {
      const g = policy.grantsFor({ groups: ['dev', 'read', 'nobody'] });
      assert.deepEqual(g.roles, ['developers', 'readers']);
      assert.equal(g.allowsEverywhere('System:Info'), true);
      assert.equal(g.allows('Function:Scale', 'dev', 'x'), true);
    });

    it('answers which namespaces an action is held in namespace-wide, and which namespaces hold any action', () => {
      const g = policy.grantsFor({ groups: ['dev', 'team-a'] });
      assert.deepEqual([...(g.namespacesFor('Function:List') as ReadonlySet<string>)], ['dev']);
      assert.deepEqual([...(g.namespacesFor('Secret:Update') as ReadonlySet<string>)], ['team-a'], 'staging:db is one name, not the namespace');
      assert.deepEqual([...(g.namespacesFor('System:Info') as ReadonlySet<string>)], []);
      assert.deepEqual([...(g.anyActionNamespaces() as ReadonlySet<string>)].sort(), ['dev', 'staging', 'team-a']);
      assert.equal(g.holdsAnywhere('Namespace:List'), true);
      assert.equal(policy.grantsFor({ groups: ['dev'] }).holdsAnywhere('Namespace:List'), false);
      const reader = policy.grantsFor({ groups: ['read'] });
      assert.equal(reader.namespacesFor('Function:List'), '*');
      assert.equal(reader.anyActionNamespaces(), '*');
    });

    it('describes what the token may do, as the file wrote it', () => {
      assert.deepEqual(policy.grantsFor({ groups: ['dev'], azp: 'ci-1' }).describe(), [
        'Function:* on dev:*',
        'Secret:Update on staging:db',
        'Function:Invoke on prod:echo',
      ]);
      assert.deepEqual(policy.grantsFor({ groups: ['read'] }).describe(), ['Function:List on *', 'System:Info on *', 'Namespace:List on *']);
    });

    it('gives tokens with the same Roles and statements one shared, frozen Grants', () => {
      const a = policy.grantsFor({ sub: 'a', groups: ['dev'] });
      const b = policy.grantsFor({ sub: 'b', groups: ['dev'], azp: 'laptop' });
      const c = policy.grantsFor({ sub: 'c', groups: ['dev'], azp: 'ci-x' });
      assert.equal(a, b);
      assert.notEqual(a, c, 'a statement condition that held makes other grants');
      assert.ok(Object.isFrozen(a) && Object.isFrozen(a.roles));
      assert.throws(() => (a.roles as string[]).push('admins'));
    });
  });
});
