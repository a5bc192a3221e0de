import 'reflect-metadata';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { forgeCallerToken } from '../support/auth-fixtures';
import {
  AccessHarness,
  assertForbidden,
  bearer,
  Condition,
  grant,
  gql,
  IamObject,
  policy,
  role,
  startWithAccess,
  upstreamCalls,
} from '../support/access-files';
import { HttpResponse, request } from '../support/http-client';
import { TestIdentityProvider } from '../support/identity-provider';
import { waitUntil } from '../support/wait';
import { captureLines } from './harness';

/**
 * Roles and their conditions on real tokens (a real OpenID Provider, Keycloak-like claims added
 * by it, and tokens signed with its key carrying claims it would not issue), GraphQL under the
 * same rules, and the decision in the audit log. Each Role grants Function:Get on `who:<role>`,
 * so that a request for that function tells whether a token matched that Role and no other.
 */

const WHO = 'who';

/** A Role (and its Policy) of the matching table: Function:Get on who:<name>. */
function whoRole(name: string, condition: Condition | undefined, extra: { principal?: Record<string, string[]>; apiVersion?: string } = {}): IamObject[] {
  return [policy(name, [{ action: ['Function:Get'], resource: [`${WHO}:${name}`] }]), role(name, [name], { condition, ...extra })];
}

const ROLES: IamObject[] = [
  ...whoRole('by-client-id', { StringEqual: { 'jwt:client_id': ['ci-bot'] } }),
  ...whoRole('by-azp', { StringEqual: { 'jwt:azp': ['dashboard'] } }),
  ...whoRole('like-deployer', { StringLike: { 'jwt:client_id': ['team-*-deployer', 'svc-?'] } }),
  ...whoRole('ignore-case', { StringEqualIgnoreCase: { 'jwt:client_id': ['Release-Bot'] } }),
  ...whoRole('scope-read', { 'ForAnyValue:StringEqual': { 'jwt:scope': ['openfaas:read'] } }),
  ...whoRole('groups-like', { 'ForAnyValue:StringLike': { 'jwt:groups': ['/vendor/*'] } }),
  ...whoRole('realm-roles', { 'ForAnyValue:StringEqual': { 'jwt:realm_access.roles': ['gateway-reader'] } }),
  ...whoRole('auth0-roles', { 'ForAnyValue:StringEqual': { 'jwt:https://example.com/roles': ['deployer'] } }),
  ...whoRole('principal-sub', { StringEqual: { 'jwt:client_id': ['ci-bot', 'cd-bot'] } }, { principal: { 'jwt:sub': ['svc-account-1'] } }),
  ...whoRole('and-keys', { StringEqual: { 'jwt:client_id': ['ci-bot', 'cd-bot'], 'jwt:azp': ['pipeline'] } }),
  ...whoRole('nickname-like', { StringLike: { 'jwt:nickname': ['*'] } }),
  ...whoRole('legacy', { StringEqual: { 'jwt:client_id': ['legacy-bot'] } }, { apiVersion: 'openfaas.com/v1' }),
  // One Role, two statements: the second holds only for tokens with the admin scope.
  policy('conditional', [
    { action: ['Function:Get'], resource: [`${WHO}:cond-always`] },
    { action: ['Function:Get'], resource: [`${WHO}:cond-gated`], condition: { 'ForAnyValue:StringEqual': { 'jwt:scope': ['openfaas:admin'] } } },
  ]),
  role('conditional', ['conditional'], { condition: { StringEqual: { 'jwt:client_id': ['cond-bot'] } } }),
  // The default namespace is fn-default here: a request naming none acts there.
  ...grant('default-ns', { StringEqual: { 'jwt:client_id': ['ns-bot'] } }, [{ action: ['Function:List'], resource: ['fn-default:*'] }]),
  ...grant('openfaas-fn-ns', { StringEqual: { 'jwt:client_id': ['fnns-bot'] } }, [{ action: ['Function:List'], resource: ['openfaas-fn:*'] }]),
  // GraphQL
  ...grant('gql-ops', { StringEqual: { 'jwt:client_id': ['gql-ops'] } }, [{ action: ['System:Info'], resource: ['*'] }]),
  ...grant('gql-lister', { StringEqual: { 'jwt:client_id': ['gql-lister'] } }, [{ action: ['Function:List'], resource: ['dev:*', 'staging:*'] }]),
  ...grant('gql-all', { StringEqual: { 'jwt:client_id': ['gql-all'] } }, [{ action: ['Function:List', 'Namespace:List'], resource: ['*'] }]),
  ...grant('gql-named', { StringEqual: { 'jwt:client_id': ['gql-named'] } }, [{ action: ['Function:List'], resource: ['dev:echo'] }]),
  // dev exists in OpenFaaS, qa does not (yet): a Role written ahead of a namespace.
  ...grant('gql-ahead', { StringEqual: { 'jwt:client_id': ['gql-ahead'] } }, [{ action: ['Function:List'], resource: ['dev:*', 'qa:*'] }]),
  // Audit
  ...grant('deployer', { StringEqual: { 'jwt:client_id': ['deploy-bot'] } }, [{ action: ['Function:Create', 'Function:List'], resource: ['dev:*'] }]),
];

const SEED = [
  { name: 'echo', image: 'ghcr.io/openfaas/alpine:latest' },
  { name: 'echo', image: 'ghcr.io/openfaas/alpine:latest', namespace: 'dev' },
  { name: 'worker', image: 'ghcr.io/x/worker:1', namespace: 'dev' },
  { name: 'api', image: 'ghcr.io/x/api:1', namespace: 'prod' },
  { name: 'job', image: 'ghcr.io/x/job:1', namespace: 'staging' },
];

const CLIENTS = ['ci-bot', 'other-bot', 'kc-dashboard', 'team-a-deployer', 'xteam-a-deployer', 'gql-ops', 'gql-lister', 'gql-all', 'gql-named', 'gql-ahead', 'deploy-bot', 'nobody'];

/** What a Keycloak client-credentials token of the dashboard client carries besides the standard claims. */
const KEYCLOAK_CLAIMS = {
  azp: 'dashboard',
  realm_access: { roles: ['gateway-reader', 'offline_access'] },
  groups: ['/vendor/ops', '/vendor/dev'],
};

describe('Roles, GraphQL and audit under an access file', () => {
  let idp: TestIdentityProvider;
  let g: AccessHarness;
  const log = captureLines();

  before(async () => {
    idp = await TestIdentityProvider.start({
      audience: 'openfaas-gateway',
      clients: CLIENTS.map((clientId) => ({ clientId, clientSecret: `${clientId}-secret` })),
      extraClaims: (clientId) => (clientId === 'kc-dashboard' ? KEYCLOAK_CLAIMS : undefined),
    });
    g = await startWithAccess(ROLES, {
      issuer: idp.issuer,
      env: { default_namespace: 'fn-default', log_encoding: 'json' },
      logDestination: log.destination,
      openfaas: { functions: SEED, namespaces: ['fn-default'] },
    });
  });
  after(async () => {
    await g?.close();
    await idp?.close();
  });
  beforeEach(() => g.h.openfaas.clearRequests());

  const real = (clientId: string, scope?: string) => idp.clientCredentialsToken({ clientId, clientSecret: `${clientId}-secret`, scope });
  /** A token signed with the provider's own key, with these claims over random sub and azp. */
  const forged = (claims: Record<string, unknown>) => forgeCallerToken(idp, claims);

  /** The Roles (of the table above) a token matches, found by asking for each Role's function. */
  async function matchedRoles(token: string, names: readonly string[] = WHO_ROLES): Promise<string[]> {
    const matched: string[] = [];
    for (const name of names) {
      g.h.openfaas.clearRequests();
      const res = await request(`${g.h.url}/system/function/${name}?namespace=${WHO}`, { headers: bearer(token) });
      if (res.status === 403) {
        assertForbidden(res, 'Function:Get', `${WHO}:${name}`);
        assert.deepEqual(upstreamCalls(g.h), [], `refused ${name}, yet something reached OpenFaaS`);
      } else {
        assert.deepEqual(upstreamCalls(g.h).map((c) => c.url), [`/system/function/${name}?namespace=${WHO}`], `${name}: ${res.status} ${res.text}`);
        matched.push(name);
      }
    }
    return matched;
  }

  describe('conditions and principals', () => {
    it('StringEqual on jwt:client_id: the ci-bot client matches, another client does not', async () => {
      assert.deepEqual(await matchedRoles(await real('ci-bot')), ['by-client-id']);
      assert.deepEqual(await matchedRoles(await real('other-bot')), []);
    });

    it('Keycloak claims from the provider: azp, groups (ForAnyValue:StringLike) and realm_access.roles (a nested path)', async () => {
      assert.deepEqual(await matchedRoles(await real('kc-dashboard')), ['by-azp', 'groups-like', 'realm-roles']);
    });

    it('StringEqual on jwt:azp: another value, an array, an empty string or no azp match nothing', async () => {
      for (const azp of ['dashboard2', 'Dashboard', ['dashboard'], '', undefined, 7]) {
        assert.deepEqual(await matchedRoles(forged({ azp }), ['by-azp']), [], `azp ${JSON.stringify(azp)}`);
      }
      assert.deepEqual(await matchedRoles(forged({ azp: 'dashboard' }), ['by-azp']), ['by-azp']);
    });

    it('StringLike: * any run, ? one character, anchored at both ends', async () => {
      assert.deepEqual(await matchedRoles(await real('team-a-deployer'), ['like-deployer']), ['like-deployer']);
      assert.deepEqual(await matchedRoles(await real('xteam-a-deployer'), ['like-deployer']), []);
      const cases: Array<[string, boolean]> = [
        ['team--deployer', true],
        ['team-a-b-deployer', true],
        ['team-a-deployer-x', false],
        ['team-a-deployerx', false],
        ['svc-1', true],
        ['svc-12', false],
        ['svc-', false],
        ['svc-.', true],
      ];
      for (const [clientId, expected] of cases) {
        assert.deepEqual(await matchedRoles(forged({ client_id: clientId }), ['like-deployer']), expected ? ['like-deployer'] : [], clientId);
      }
    });

    it('StringEqualIgnoreCase matches whatever the case, only the whole value', async () => {
      for (const [clientId, expected] of [['release-bot', true], ['RELEASE-BOT', true], ['Release-Bot', true], ['release-bot2', false], ['release', false]] as const) {
        assert.deepEqual(await matchedRoles(forged({ client_id: clientId }), ['ignore-case']), expected ? ['ignore-case'] : [], clientId);
      }
    });

    it('ForAnyValue:StringEqual on a space-separated scope from the provider counts each word', async () => {
      assert.deepEqual(await matchedRoles(await real('other-bot', 'profile openfaas:read email'), ['scope-read']), ['scope-read']);
      assert.deepEqual(await matchedRoles(await real('other-bot', 'openfaas:readx openfaas'), ['scope-read']), []);
      assert.deepEqual(await matchedRoles(await real('other-bot'), ['scope-read']), []);
      assert.deepEqual(await matchedRoles(forged({ scope: ['openfaas:read'] }), ['scope-read']), ['scope-read']);
      assert.deepEqual(await matchedRoles(forged({ scope: '' }), ['scope-read']), []);
      assert.deepEqual(await matchedRoles(forged({ scope: { 'openfaas:read': true } }), ['scope-read']), []);
    });

    it('nested jwt:realm_access.roles: wrong types and missing levels match nothing; a claim of that exact name counts', async () => {
      const cases: Array<[Record<string, unknown>, boolean]> = [
        [{ realm_access: { roles: ['offline_access', 'gateway-reader'] } }, true],
        [{ realm_access: { roles: 'gateway-reader' } }, false],
        [{ realm_access: ['gateway-reader'] }, false],
        [{ realm_access: { roles: [] } }, false],
        [{ resource_access: { roles: ['gateway-reader'] } }, false],
        [{ 'realm_access.roles': ['gateway-reader'] }, true],
        [{}, false],
      ];
      for (const [claims, expected] of cases) {
        assert.deepEqual(await matchedRoles(forged(claims), ['realm-roles']), expected ? ['realm-roles'] : [], JSON.stringify(claims));
      }
    });

    it("Auth0's namespaced claim (a name with dots) is read whole", async () => {
      assert.deepEqual(await matchedRoles(forged({ 'https://example.com/roles': ['viewer', 'deployer'] }), ['auth0-roles']), ['auth0-roles']);
      assert.deepEqual(await matchedRoles(forged({ 'https://example.com/roles': ['viewer'] }), ['auth0-roles']), []);
    });

    it('principal jwt:sub and the condition must both hold', async () => {
      const roles = ['principal-sub'];
      assert.deepEqual(await matchedRoles(forged({ sub: 'svc-account-1', client_id: 'cd-bot' }), roles), roles);
      assert.deepEqual(await matchedRoles(forged({ sub: 'svc-account-1', client_id: 'other' }), roles), []);
      assert.deepEqual(await matchedRoles(forged({ sub: 'svc-account-2', client_id: 'ci-bot' }), roles), []);
      assert.deepEqual(await matchedRoles(forged({ sub: 'SVC-ACCOUNT-1', client_id: 'ci-bot' }), roles), []);
    });

    it('condition keys AND together, values OR together', async () => {
      const roles = ['and-keys'];
      assert.deepEqual(await matchedRoles(forged({ client_id: 'ci-bot', azp: 'pipeline' }), roles), roles);
      assert.deepEqual(await matchedRoles(forged({ client_id: 'cd-bot', azp: 'pipeline' }), roles), roles);
      assert.deepEqual(await matchedRoles(forged({ client_id: 'ci-bot', azp: 'other' }), roles), []);
      assert.deepEqual(await matchedRoles(forged({ client_id: 'xx-bot', azp: 'pipeline' }), roles), []);
    });

    it('StringLike * needs a non-empty string claim', async () => {
      const roles = ['nickname-like'];
      assert.deepEqual(await matchedRoles(forged({ nickname: 'x' }), roles), roles);
      for (const nickname of ['', undefined, 5, ['x'], null]) {
        assert.deepEqual(await matchedRoles(forged({ nickname }), roles), [], JSON.stringify(nickname));
      }
    });

    it('a Role of apiVersion openfaas.com/v1 (older charts) counts', async () => {
      assert.deepEqual(await matchedRoles(forged({ client_id: 'legacy-bot' }), ['legacy']), ['legacy']);
    });

    it('a statement with a condition holds only for tokens that meet it', async () => {
      const names = ['cond-always', 'cond-gated'];
      assert.deepEqual(await matchedRoles(forged({ client_id: 'cond-bot' }), names), ['cond-always']);
      assert.deepEqual(await matchedRoles(forged({ client_id: 'cond-bot', scope: 'openfaas:admin' }), names), names);
      assert.deepEqual(await matchedRoles(forged({ client_id: 'other', scope: 'openfaas:admin' }), names), []);
    });

    it('a request naming no namespace acts on default_namespace', async () => {
      const res = await request(`${g.h.url}/system/functions`, { headers: bearer(forged({ client_id: 'ns-bot' })) });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(upstreamCalls(g.h).map((c) => c.url), ['/system/functions']);
      g.h.openfaas.clearRequests();
      assertForbidden(await request(`${g.h.url}/system/functions`, { headers: bearer(forged({ client_id: 'fnns-bot' })) }), 'Function:List', 'fn-default:*');
      assert.deepEqual(upstreamCalls(g.h), []);
    });

    it('a valid token matching no Role is refused everywhere, REST and GraphQL alike', async () => {
      const nobody = await real('nobody', 'openfaas:write');
      const calls: Array<[string, string, string | undefined, string, string]> = [
        ['GET', '/system/functions', undefined, 'Function:List', 'fn-default:*'],
        ['GET', '/system/info', undefined, 'System:Info', '*'],
        ['GET', '/system/namespaces', undefined, 'Namespace:List', '*'],
        ['POST', '/system/functions', '{"service":"x","image":"i","namespace":"dev"}', 'Function:Create', 'dev:x'],
        ['GET', '/system/anything', undefined, '*', '*'],
      ];
      for (const [method, path, body, action, resource] of calls) {
        const res = await request(`${g.h.url}${path}`, { method, headers: { ...bearer(nobody), 'content-type': 'application/json' }, body });
        assertForbidden(res, action, resource);
      }
      for (const query of ['{ gatewayStatus { version } }', '{ functions { name } }', '{ functions(namespace: "dev") { name } }', '{ namespaces }']) {
        const res = await gql(g.h, nobody, query);
        assert.equal(res.errors?.[0]?.extensions?.code, 'FORBIDDEN', `${query}: ${res.text}`);
        assert.equal(res.data ?? null, null, res.text);
      }
      assert.deepEqual(upstreamCalls(g.h), []);
    });
  });

  describe('GraphQL under the same rules', () => {
    it('gatewayStatus needs System:Info: FORBIDDEN without it, naming the action', async () => {
      const ok = await gql(g.h, await real('gql-ops'), '{ gatewayStatus { version issuer { issuer } } }');
      assert.equal(ok.errors, undefined, ok.text);
      assert.equal(ok.data.gatewayStatus.issuer.issuer, idp.issuer);
      const refused = await gql(g.h, await real('gql-lister'), '{ gatewayStatus { version } }');
      assert.equal(refused.errors?.length, 1, refused.text);
      assert.equal(refused.errors?.[0]?.extensions?.code, 'FORBIDDEN');
      assert.match(refused.errors?.[0]?.message ?? '', /System:Info/);
    });

    it('functions(namespace) needs Function:List there', async () => {
      const lister = await real('gql-lister');
      const dev = await gql(g.h, lister, '{ functions(namespace: "dev") { name namespace } }');
      assert.equal(dev.errors, undefined, dev.text);
      assert.deepEqual(
        sortByName(dev.data.functions),
        sortByName(SEED.filter((f) => f.namespace === 'dev').map((f) => ({ name: f.name, namespace: 'dev' }))),
      );
      g.h.openfaas.clearRequests();
      const prod = await gql(g.h, lister, '{ functions(namespace: "prod") { name } }');
      assert.equal(prod.errors?.[0]?.extensions?.code, 'FORBIDDEN', prod.text);
      assert.match(prod.errors?.[0]?.message ?? '', /Function:List/);
      assert.match(prod.errors?.[0]?.message ?? '', /prod:\*/);
      assert.deepEqual(upstreamCalls(g.h), [], 'a refused query asked OpenFaaS');
    });

    it('functions without a namespace: the functions of every namespace the token may list', async () => {
      const mine = await gql(g.h, await real('gql-lister'), '{ functions { name namespace } }');
      assert.equal(mine.errors, undefined, mine.text);
      const expected = (namespaces: string[]) =>
        SEED.map((f) => ({ name: f.name, namespace: f.namespace ?? 'openfaas-fn' })).filter((f) => namespaces.includes(f.namespace));
      assert.deepEqual(sortByName(mine.data.functions), sortByName(expected(['dev', 'staging'])));
      const all = await gql(g.h, await real('gql-all'), '{ functions { name namespace } }');
      assert.equal(all.errors, undefined, all.text);
      assert.deepEqual(sortByName(all.data.functions), sortByName(expected(['openfaas-fn', 'fn-default', 'dev', 'prod', 'staging'])));
      // Function:List on one function is no namespace to list.
      const named = await gql(g.h, await real('gql-named'), '{ functions { name } }');
      assert.equal(named.errors?.[0]?.extensions?.code, 'FORBIDDEN', named.text);
    });

    it(
      'functions without a namespace skips a namespace the token may list that OpenFaaS does not have',
      async () => {
        const res = await gql(g.h, await real('gql-ahead'), '{ functions { name namespace } }');
        assert.equal(res.errors, undefined, res.text);
        assert.deepEqual(
          sortByName(res.data.functions),
          sortByName(SEED.filter((f) => f.namespace === 'dev').map((f) => ({ name: f.name, namespace: 'dev' }))),
        );
      },
    );

    it('tokenDiagnostics reports access { roles actions } of the diagnosed token, not the caller', async () => {
      const caller = await real('nobody');
      const query = 'query($t: String!) { tokenDiagnostics(token: $t) { valid access { roles actions } } }';
      const lister = await gql(g.h, caller, query, { t: await real('gql-lister') });
      assert.equal(lister.errors, undefined, lister.text);
      assert.equal(lister.data.tokenDiagnostics.valid, true);
      assert.deepEqual(lister.data.tokenDiagnostics.access.roles, ['gql-lister']);
      assertActions(lister.data.tokenDiagnostics.access.actions, [
        ['Function:List', 'dev:*'],
        ['Function:List', 'staging:*'],
      ]);
      const dashboard = await gql(g.h, caller, query, { t: await real('kc-dashboard') });
      assert.deepEqual(dashboard.data?.tokenDiagnostics.access.roles, ['by-azp', 'groups-like', 'realm-roles'], dashboard.text);
      assertActions(dashboard.data.tokenDiagnostics.access.actions, [
        ['Function:Get', `${WHO}:by-azp`],
        ['Function:Get', `${WHO}:groups-like`],
        ['Function:Get', `${WHO}:realm-roles`],
      ]);
      const nobody = await gql(g.h, caller, query, { t: caller });
      assert.deepEqual(nobody.data?.tokenDiagnostics.access, { roles: [], actions: [] }, nobody.text);
      const invalid = await gql(g.h, caller, query, { t: forgeCallerToken(idp, { exp: 1 }) });
      assert.equal(invalid.data?.tokenDiagnostics.valid, false, invalid.text);
      assert.equal(invalid.data?.tokenDiagnostics.access, null);
    });
  });

  describe('audit events carry the decision, the resource and the Roles', () => {
    async function call(token: string, method: string, path: string, body?: string): Promise<{ res: HttpResponse; event: Record<string, unknown> }> {
      const id = `perm-audit-${randomBytes(6).toString('hex')}`;
      const res = await request(`${g.h.url}${path}`, {
        method,
        headers: { ...bearer(token), 'x-request-id': id, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body,
      });
      const line = await waitUntil(() => log.lines.find((l) => l.includes(`"requestId":"${id}"`) && l.includes('"event":"audit"')), 5000, {
        message: `no audit event for ${method} ${path} (${res.status})`,
      });
      return { res, event: JSON.parse(line) as Record<string, unknown> };
    }

    it('an allowed write: decision allowed, its resource and the Roles matched', async () => {
      const token = await real('deploy-bot');
      const { res, event } = await call(token, 'POST', '/system/functions', '{"service":"audited","image":"ghcr.io/x/a:1","namespace":"dev"}');
      assert.equal(res.status, 202, res.text);
      assert.equal(event.decision, 'allowed');
      assert.equal(event.action, 'Function:Create');
      assert.equal(event.resource, 'dev:audited');
      assert.deepEqual(event.roles, ['deployer']);
      assert.equal(event.target, 'audited');
      assert.equal(event.namespace, 'dev');
      assert.equal(event.client, 'deploy-bot');
    });

    it('a denied write and a denied read: decision denied, the resource lacked, the Roles held', async () => {
      const token = await real('deploy-bot');
      const write = await call(token, 'POST', '/system/functions', '{"service":"audited","image":"ghcr.io/x/a:1","namespace":"prod"}');
      assert.equal(write.res.status, 403);
      assert.equal(write.event.decision, 'denied');
      assert.equal(write.event.action, 'Function:Create');
      assert.equal(write.event.resource, 'prod:audited');
      assert.deepEqual(write.event.roles, ['deployer']);
      const read = await call(token, 'GET', '/system/functions?namespace=prod');
      assert.equal(read.res.status, 403);
      assert.equal(read.event.decision, 'denied');
      assert.equal(read.event.action, 'Function:List');
      assert.equal(read.event.resource, 'prod:*');
      assert.deepEqual(read.event.roles, ['deployer']);
      assert.deepEqual(upstreamCalls(g.h), []);
    });

    it('a token matching no Role: denied with no Roles', async () => {
      const { res, event } = await call(await real('nobody'), 'DELETE', '/system/secrets', '{"name":"s","namespace":"dev"}');
      assert.equal(res.status, 403);
      assert.equal(event.decision, 'denied');
      assert.equal(event.action, 'Secret:Delete');
      assert.equal(event.resource, 'dev:s');
      assert.deepEqual(event.roles, []);
    });
  });
});

const WHO_ROLES = [
  'by-client-id',
  'by-azp',
  'like-deployer',
  'ignore-case',
  'scope-read',
  'groups-like',
  'realm-roles',
  'auth0-roles',
  'principal-sub',
  'and-keys',
  'nickname-like',
  'legacy',
];

function sortByName<T extends { name: string; namespace?: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

/** Each [action, resource] appears in one line of `actions`, and no line is left over. */
function assertActions(actions: string[], expected: Array<[string, string]>): void {
  assert.equal(actions.length, expected.length, JSON.stringify(actions));
  for (const [action, resource] of expected) {
    assert.ok(
      actions.some((line) => line.includes(action) && line.includes(resource)),
      `no line names ${action} on ${resource}: ${JSON.stringify(actions)}`,
    );
  }
}
