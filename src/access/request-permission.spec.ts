import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIONS, RequiredAction, Resource, formatResource } from './access-actions';
import { Grants } from './access-grants';
import { AccessPolicy } from './access-policy';
import { PermissionCheck, RequestPermission, classifyRequest, filterNamespaces, isPermitted } from './request-permission';
import { foldEquals } from './json-body-fields';

const DEFAULT_NS = 'openfaas-fn';

/** Classifies a request target, reading `body` when the route asks for it. */
function classify(method: string, target: string, body?: string, defaultNamespace = DEFAULT_NS): PermissionCheck | { kind: 'refuse'; message: string } {
  const q = target.indexOf('?');
  const permission: RequestPermission = classifyRequest(method, q === -1 ? target : target.slice(0, q), q === -1 ? undefined : target.slice(q + 1), defaultNamespace);
  if (permission.kind !== 'body') {
    assert.equal(body, undefined, `${method} ${target} should not need its body`);
    return permission;
  }
  assert.notEqual(body, undefined, `${method} ${target} needs its body`);
  return permission.decide(Buffer.from(body as string));
}

function checked(method: string, target: string, body?: string): PermissionCheck {
  const result = classify(method, target, body);
  assert.equal(result.kind, 'check', `${method} ${target} ${body ?? ''}: ${result.kind === 'refuse' ? result.message : ''}`);
  return result as PermissionCheck;
}

function refusal(method: string, target: string, body?: string): string {
  const result = classify(method, target, body);
  assert.equal(result.kind, 'refuse', `${method} ${target} ${body ?? ''} was not refused: ${JSON.stringify(result)}`);
  return (result as { message: string }).message;
}

function grantsOf(statements: Array<{ actions: string[]; resources: string[] }>): Grants {
  const policy = AccessPolicy.compile({
    issuers: [],
    roles: [{ name: 'r', policies: ['p'] }],
    policies: [{ name: 'p', statements: statements.map((s, i) => ({ sid: `s${i}`, ...s })) as never }],
  });
  return policy.grantsFor({ sub: 'x' });
}

describe(classifyRequest.name, () => {
  // The contract's table, one row per method, with the namespace from where faas-netes reads it.
  const table: Array<[string, string, string | undefined, RequiredAction, Resource]> = [
    ['GET', '/system/functions', undefined, 'Function:List', { namespace: DEFAULT_NS, name: '*' }],
    ['GET', '/system/functions?namespace=dev', undefined, 'Function:List', { namespace: 'dev', name: '*' }],
    ['GET', '/system/function/echo?usage=1&namespace=dev', undefined, 'Function:Get', { namespace: 'dev', name: 'echo' }],
    ['POST', '/system/functions', '{"service":"echo","image":"x","namespace":"dev"}', 'Function:Create', { namespace: 'dev', name: 'echo' }],
    ['PUT', '/system/functions', '{"service":"echo","image":"x"}', 'Function:Update', { namespace: DEFAULT_NS, name: 'echo' }],
    ['DELETE', '/system/functions?namespace=dev', '{"functionName":"echo"}', 'Function:Delete', { namespace: 'dev', name: 'echo' }],
    ['DELETE', '/system/functions', '{"functionName":"echo"}', 'Function:Delete', { namespace: DEFAULT_NS, name: 'echo' }],
    ['POST', '/system/scale-function/echo?namespace=dev', undefined, 'Function:Scale', { namespace: 'dev', name: 'echo' }],
    ['GET', '/system/logs?follow=true&name=echo&tail=-1', undefined, 'Function:Logs', { namespace: DEFAULT_NS, name: 'echo' }],
    ['GET', '/system/logs?name=echo&namespace=dev', undefined, 'Function:Logs', { namespace: 'dev', name: 'echo' }],
    ['GET', '/system/secrets?namespace=dev', undefined, 'Secret:List', { namespace: 'dev', name: '*' }],
    ['POST', '/system/secrets', '{"name":"db","value":"s3cr3t","namespace":"dev"}', 'Secret:Create', { namespace: 'dev', name: 'db' }],
    ['PUT', '/system/secrets', '{"name":"db","value":"s3cr3t"}', 'Secret:Update', { namespace: DEFAULT_NS, name: 'db' }],
    ['DELETE', '/system/secrets', '{"name":"db","namespace":"dev"}', 'Secret:Delete', { namespace: 'dev', name: 'db' }],
    ['GET', '/system/namespaces', undefined, 'Namespace:List', '*'],
    ['GET', '/system/namespace/dev', undefined, 'Namespace:Get', { namespace: 'dev', name: '*' }],
    ['PUT', '/system/namespace/dev', undefined, 'Namespace:Update', { namespace: 'dev', name: '*' }],
    ['DELETE', '/system/namespace/dev', undefined, 'Namespace:Delete', { namespace: 'dev', name: '*' }],
    ['POST', '/system/namespace/', '{"name":"team-b","annotations":{}}', 'Namespace:Create', { namespace: 'team-b', name: '*' }],
    ['GET', '/system/info', undefined, 'System:Info', '*'],
    ['POST', '/function/echo.dev', undefined, 'Function:Invoke', { namespace: 'dev', name: 'echo' }],
    ['GET', '/function/echo/some/path', undefined, 'Function:Invoke', { namespace: DEFAULT_NS, name: 'echo' }],
    ['POST', '/async-function/echo.dev/x', undefined, 'Function:Invoke', { namespace: 'dev', name: 'echo' }],
    // Unlisted /system routes, including other methods and spellings than the table's: only `*`.
    ['GET', '/system/alerts', undefined, '*', '*'],
    ['POST', '/system/info', undefined, '*', '*'],
    ['get', '/system/functions', undefined, '*', '*'],
    ['HEAD', '/system/functions', undefined, '*', '*'],
    ['GET', '/system/functions/', undefined, '*', '*'],
    ['GET', '/system/function/echo/extra', undefined, '*', '*'],
    ['PATCH', '/system/secrets', undefined, '*', '*'],
    ['POST', '/system/namespace', undefined, '*', '*'],
  ];

  for (const [method, target, body, action, resource] of table) {
    it(`${method} ${target}: ${action} on ${formatResource(resource)}, allowed with it and refused without`, () => {
      const result = checked(method, target, body);
      assert.equal(result.action, action);
      assert.deepEqual(result.resource, resource);
      assert.equal(result.namespace, resource === '*' ? undefined : resource.namespace);
      assert.equal(result.name, resource === '*' ? undefined : resource.name);
      assert.equal(result.filtersNamespaces, action === 'Namespace:List');

      assert.equal(isPermitted(grantsOf([{ actions: [action], resources: [formatResource(resource)] }]), result), true, 'exactly the grant');
      assert.equal(isPermitted(grantsOf([{ actions: ['*'], resources: ['*'] }]), result), true, 'an admin');
      assert.equal(isPermitted(Grants.NONE, result), false, 'no Role');
      const everyOtherAction = ACTIONS.filter((a) => a !== action);
      assert.equal(isPermitted(grantsOf([{ actions: everyOtherAction, resources: ['*'] }]), result), false, 'every other action');
      if (resource !== '*') {
        assert.equal(isPermitted(grantsOf([{ actions: [action], resources: ['elsewhere:*'] }]), result), false, 'another namespace');
        if (resource.name !== '*') {
          assert.equal(isPermitted(grantsOf([{ actions: [action], resources: [`${resource.namespace}:other`] }]), result), false, 'another name');
        }
      } else if (action !== 'Namespace:List') {
        assert.equal(isPermitted(grantsOf([{ actions: [action], resources: ['dev:*'] }]), result), false, 'a namespace is not *');
      }
    });
  }

  it('GET /system/namespaces passes with Namespace:List on any resource, and the answer is filtered', () => {
    const permission = checked('GET', '/system/namespaces');
    const dev = grantsOf([
      { actions: ['Namespace:List'], resources: ['dev:*'] },
      { actions: ['Function:Invoke'], resources: ['prod:echo'] },
    ]);
    assert.equal(isPermitted(dev, permission), true);
    assert.deepEqual(filterNamespaces(dev, ['openfaas-fn', 'dev', 'prod', 'staging']), ['dev', 'prod']);
    const invokeOnly = grantsOf([{ actions: ['Function:Invoke'], resources: ['*'] }]);
    assert.equal(isPermitted(invokeOnly, permission), false);
    assert.deepEqual(filterNamespaces(invokeOnly, ['a', 'b']), ['a', 'b'], 'a * resource covers every namespace');
    assert.deepEqual(filterNamespaces(Grants.NONE, ['a', 'b']), []);
  });

  it('uses the configured default namespace, and an empty namespace parameter means the default', () => {
    const result = classify('GET', '/system/functions?namespace=', undefined, 'fn-prod');
    assert.deepEqual((result as PermissionCheck).resource, { namespace: 'fn-prod', name: '*' });
    assert.deepEqual(checked('PUT', '/system/functions', '{"service":"echo","namespace":""}').resource, { namespace: DEFAULT_NS, name: 'echo' });
  });

  describe('namespace named in two places', () => {
    it('refuses a body namespace and a query namespace that differ', () => {
      assert.match(refusal('POST', '/system/functions?namespace=prod', '{"service":"echo","namespace":"dev"}'), /query names namespace "prod".*body, which names "dev"/);
      assert.match(refusal('POST', '/system/secrets?namespace=prod', '{"name":"db","namespace":"dev"}'), /prod/);
      assert.match(refusal('DELETE', '/system/functions?namespace=dev', '{"functionName":"echo","namespace":"prod"}'), /body names namespace "prod".*query, which names "dev"/);
      const long = refusal('POST', `/system/functions?namespace=${'x'.repeat(5000)}`, '{"service":"echo","namespace":"dev"}');
      assert.ok(long.length < 200, 'a caller\'s long value is cut short in the message');
    });

    it('refuses a namespace in the other place when the place OpenFaaS reads names none (so the default)', () => {
      assert.match(refusal('PUT', '/system/functions?namespace=dev', '{"service":"echo"}'), /names none \(so "openfaas-fn"\)/);
      assert.match(refusal('DELETE', '/system/functions', '{"functionName":"echo","namespace":"dev"}'), /names none \(so "openfaas-fn"\)/);
    });

    it('accepts the same namespace in both places', () => {
      assert.deepEqual(checked('POST', '/system/functions?namespace=dev', '{"service":"echo","namespace":"dev"}').resource, { namespace: 'dev', name: 'echo' });
      assert.deepEqual(checked('DELETE', '/system/functions?namespace=dev', '{"functionName":"echo","namespace":"dev"}').resource, { namespace: 'dev', name: 'echo' });
    });

    it('refuses a namespace route whose path, body and query disagree', () => {
      assert.match(refusal('POST', '/system/namespace/dev', '{"name":"prod"}'), /path names namespace "dev" but the body's "name" is "prod"/);
      assert.deepEqual(checked('POST', '/system/namespace/dev', '{"name":"dev"}').resource, { namespace: 'dev', name: '*' });
      assert.match(refusal('POST', '/system/namespace/?namespace=dev', '{"name":"prod"}'), /query names namespace "dev"/);
      assert.match(refusal('GET', '/system/namespace/dev?namespace=prod'), /query names namespace "prod"/);
      assert.deepEqual(checked('DELETE', '/system/namespace/dev?namespace=dev').resource, { namespace: 'dev', name: '*' });
    });
  });

  describe('the query, read as Go reads it', () => {
    it('refuses a namespace parameter repeated with different values (Go takes the first), accepts it repeated alike', () => {
      assert.match(refusal('GET', '/system/functions?namespace=dev&namespace=prod'), /"namespace" query parameter is given more than once/);
      assert.ok(refusal('GET', '/system/functions?namespace=&namespace=dev'), 'an empty first value is the default, not dev');
      assert.deepEqual(checked('GET', '/system/functions?namespace=dev&namespace=dev').resource, { namespace: 'dev', name: '*' });
      assert.match(refusal('GET', '/system/logs?name=a&name=b'), /"name" query parameter/);
    });

    it('percent-decodes keys and values, with + as a space', () => {
      assert.deepEqual(checked('GET', '/system/functions?name%73pace=dev').resource, { namespace: 'dev', name: '*' });
      assert.deepEqual(checked('GET', '/system/functions?%6Eamespace=d%65v').resource, { namespace: 'dev', name: '*' });
      assert.deepEqual(checked('GET', '/system/functions?namespace=a+b').resource, { namespace: 'a b', name: '*' });
      assert.deepEqual(checked('GET', '/system/functions?namespace=a%2Bb').resource, { namespace: 'a+b', name: '*' });
      assert.deepEqual(checked('GET', '/system/functions?Namespace=dev').resource, { namespace: DEFAULT_NS, name: '*' }, 'keys are case-sensitive in Go');
      assert.match(refusal('GET', '/system/functions?name%73pace=dev&namespace=prod'), /more than once/);
    });

    it('refuses a pair Go would skip (";" or a malformed escape) when it may name the namespace', () => {
      for (const query of ['a=1;namespace=dev', 'namespace=dev;', 'namespace%zz=dev', 'name%73pace=dev;x', '%6eamespace%=dev']) {
        assert.match(refusal('GET', `/system/functions?${query}`), /not validly encoded \(or uses ";"\)/, query);
      }
      assert.match(refusal('GET', '/system/functions?namespace=%zz'), /"namespace" query parameter is not validly encoded/);
      assert.match(refusal('GET', '/system/functions?namespace=%ff'), /not validly encoded/, 'not UTF-8');
      assert.match(refusal('GET', '/system/functions?namespace=d%'), /not validly encoded/);
      // Pairs that cannot be the namespace are skipped, as Go skips them.
      assert.deepEqual(checked('GET', '/system/functions?tail=1;2&x=%zz&namespace=dev').resource, { namespace: 'dev', name: '*' });
    });

    it('refuses a query of more parameters than Go reads', () => {
      assert.match(refusal('GET', `/system/functions?${'a=1&'.repeat(1000)}namespace=dev`), /more than 1000 parameters/);
    });

    it('leaves the query of an invocation to the function', () => {
      assert.deepEqual(checked('POST', '/function/echo.dev?namespace=prod&namespace=x;y').resource, { namespace: 'dev', name: 'echo' });
    });
  });

  describe('the JSON body, read as Go reads it', () => {
    it('matches keys case-insensitively and refuses case variants with different values', () => {
      assert.deepEqual(checked('PUT', '/system/functions', '{"SERVICE":"echo","NameSpace":"dev"}').resource, { namespace: 'dev', name: 'echo' });
      assert.match(refusal('PUT', '/system/functions', '{"service":"echo","Namespace":"prod","namespace":"dev"}'), /gives "namespace" more than once/);
      assert.match(refusal('DELETE', '/system/secrets', '{"name":"a","NAME":"b"}'), /gives "name" more than once/);
      assert.deepEqual(checked('PUT', '/system/functions', '{"service":"echo","Namespace":"dev","namespace":"dev"}').resource, { namespace: 'dev', name: 'echo' });
    });

    it('folds ſ (U+017F) to s and K (U+212A) to k, as bytes.EqualFold does', () => {
      assert.deepEqual(checked('POST', '/system/functions', '{"ſervice":"echo","nameſpace":"dev"}').resource, { namespace: 'dev', name: 'echo' });
      assert.match(refusal('POST', '/system/functions', '{"service":"echo","namespace":"dev","NAMEſPACE":"prod"}'), /more than once/);
      assert.equal(foldEquals('\u212Aey', 'key'), true);
      assert.equal(foldEquals('\u212Aey', 'Key'), true);
      assert.equal(foldEquals('ſ', 'k'), false);
      assert.equal(foldEquals('İd', 'id'), false, 'U+0130 does not fold to i');
      assert.equal(foldEquals('name', 'names'), false);
      assert.equal(foldEquals('names', 'name'), false);
      assert.equal(foldEquals('n@me', 'n`me'), false, 'only letters fold');
    });

    it('refuses duplicate keys with different values (JSON.parse would keep the last silently)', () => {
      assert.match(refusal('POST', '/system/secrets', '{"name":"db","namespace":"dev","namespace":"prod"}'), /more than once/);
      assert.match(refusal('POST', '/system/functions', '{"service":"a","service":"b"}'), /"service" more than once/);
      assert.deepEqual(checked('POST', '/system/secrets', '{"name":"db","namespace":"dev","namespace":"d\\u0065v"}').resource, { namespace: 'dev', name: 'db' });
    });

    it('reads escaped keys and ignores the same keys in nested objects', () => {
      assert.deepEqual(checked('PUT', '/system/functions', '{"s\\u0065rvice":"echo","n\\u0061mespace":"dev"}').resource, { namespace: 'dev', name: 'echo' });
      const nested = '{"labels":{"namespace":"prod","service":"x"},"service":"echo","envVars":[{"namespace":"p"}],"limits":null,"x":"}"}';
      assert.deepEqual(checked('PUT', '/system/functions', nested).resource, { namespace: DEFAULT_NS, name: 'echo' });
      assert.deepEqual(checked('PUT', '/system/functions', ' \n{ "service" : "echo" ,\t"namespace":\r"dev" } \n').resource, { namespace: 'dev', name: 'echo' });
    });

    it('refuses a name or namespace that is not a string', () => {
      for (const body of ['{"service":"echo","namespace":5}', '{"service":"echo","namespace":null}', '{"service":["echo"]}', '{"service":{"a":1}}', '{"service":true}']) {
        assert.match(refusal('POST', '/system/functions', body), /must be a string/, body);
      }
    });

    it('refuses a body that is not a JSON object', () => {
      for (const body of ['', '[]', '"echo"', '5', 'null', '{', '{"service":"echo"} x', '\uFEFF{"service":"echo"}', '{"service":"echo",}']) {
        assert.equal(refusal('POST', '/system/functions', body), 'the request body must be a JSON object', JSON.stringify(body));
      }
    });

    it('refuses a body that names no target, saying which field', () => {
      assert.equal(refusal('POST', '/system/functions', '{}'), 'the request body must name the function in "service"');
      assert.equal(refusal('PUT', '/system/functions', '{"service":""}'), 'the request body must name the function in "service"');
      assert.equal(refusal('DELETE', '/system/functions', '{"service":"echo"}'), 'the request body must name the function in "functionName"');
      assert.equal(refusal('DELETE', '/system/secrets', '{"namespace":"dev"}'), 'the request body must name the secret in "name"');
      assert.equal(refusal('POST', '/system/namespace/', '{"name":""}'), 'the request body must name the namespace in "name"');
    });

    it('tells the caller which body field names the target before the body is read', () => {
      const expected: Array<[string, string, string]> = [
        ['POST', '/system/functions', 'service'],
        ['PUT', '/system/functions', 'service'],
        ['DELETE', '/system/functions', 'functionName'],
        ['POST', '/system/secrets', 'name'],
        ['POST', '/system/namespace/', 'name'],
      ];
      for (const [method, path, field] of expected) {
        const permission = classifyRequest(method, path, undefined, DEFAULT_NS);
        assert.equal(permission.kind === 'body' && permission.field, field, `${method} ${path}`);
      }
      assert.equal(classifyRequest('POST', '/system/functions', 'namespace=a&namespace=b', DEFAULT_NS).kind, 'refuse', 'a bad query is refused before the body is read');
    });
  });

  describe('paths', () => {
    it('invocations: the first segment split at its last dot, else the default namespace', () => {
      assert.deepEqual(checked('POST', '/function/fn.dev').resource, { namespace: 'dev', name: 'fn' });
      assert.deepEqual(checked('POST', '/function/fn').resource, { namespace: DEFAULT_NS, name: 'fn' });
      assert.deepEqual(checked('POST', '/function/fn.a.b/c.d').resource, { namespace: 'b', name: 'fn.a' });
      assert.deepEqual(checked('POST', '/function/fn%2Edev').resource, { namespace: 'dev', name: 'fn' });
      assert.deepEqual(checked('POST', '/async-function/fn/').resource, { namespace: DEFAULT_NS, name: 'fn' });
      for (const target of ['/function/', '/function//x', '/function/fn.', '/function/.dev', '/function/fn%2Fdev', '/function/%zz']) {
        assert.ok(refusal('POST', target), target);
      }
    });

    it('decodes /system segments before matching, and refuses bad escapes, encoded slashes and empty names', () => {
      assert.equal(checked('GET', '/system/%66unctions').action, 'Function:List');
      assert.deepEqual(checked('GET', '/system/function/my%2Dfn').resource, { namespace: DEFAULT_NS, name: 'my-fn' });
      assert.equal(refusal('GET', '/system/function/%zz'), 'the path is not validly percent-encoded');
      assert.equal(refusal('GET', '/system/function/a%2Fb'), 'the path must not contain encoded slashes');
      assert.equal(refusal('GET', '/system/function/'), 'the path must name the function');
      assert.equal(refusal('POST', '/system/scale-function/'), 'the path must name the function');
      assert.equal(refusal('GET', '/system/namespace/'), 'GET /system/namespace/ must name the namespace in the path');
    });

    it('refuses /system/logs without a function name', () => {
      assert.equal(refusal('GET', '/system/logs?follow=true'), 'the "name" query parameter must name the function whose logs to read');
      assert.equal(refusal('GET', '/system/logs?name='), 'the "name" query parameter must name the function whose logs to read');
    });
  });
});
