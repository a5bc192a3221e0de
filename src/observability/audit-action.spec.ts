import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { auditActionOf } from './audit-action';

describe(auditActionOf.name, () => {
  // openfaas.md: faas-cli deploy/up = PUT then POST, remove = DELETE with {"functionName"}.
  const functionWrites: Array<[string, string]> = [
    ['POST', 'Function:Create'],
    ['PUT', 'Function:Update'],
    ['DELETE', 'Function:Delete'],
  ];
  for (const [method, action] of functionWrites) {
    it(`${method} /system/functions is ${action}, named by the body's service or functionName`, () => {
      for (const url of ['/system/functions', '/system/functions?namespace=team-a']) {
        const found = auditActionOf(method, url);
        assert.equal(found?.action, action, url);
        assert.equal(found?.nameFromPath, undefined);
        assert.ok(found?.bodyFields?.includes('service'), 'deploy bodies name the function in service');
        assert.ok(found?.bodyFields?.includes('functionName'), 'delete bodies name it in functionName');
      }
    });
  }

  for (const [method, action] of [['POST', 'Secret:Create'], ['PUT', 'Secret:Update'], ['DELETE', 'Secret:Delete']] as const) {
    it(`${method} /system/secrets is ${action}, named by the body's name`, () => {
      const found = auditActionOf(method, '/system/secrets');
      assert.equal(found?.action, action);
      assert.deepEqual(found?.bodyFields, ['name']);
      assert.equal(found?.nameFromPath, undefined);
    });
  }

  it('POST /system/scale-function/NAME is Function:Scale on NAME', () => {
    assert.equal(auditActionOf('POST', '/system/scale-function/echo')?.action, 'Function:Scale');
    assert.equal(auditActionOf('POST', '/system/scale-function/echo')?.nameFromPath, 'echo');
    assert.equal(auditActionOf('POST', '/system/scale-function/echo?namespace=team-a')?.nameFromPath, 'echo');
  });

  it('percent-encoded names are decoded, and badly encoded ones kept as sent', () => {
    assert.equal(auditActionOf('POST', '/system/scale-function/my%2Dfn')?.nameFromPath, 'my-fn');
    assert.equal(auditActionOf('POST', '/system/scale-function/bad%E0%A4')?.nameFromPath, 'bad%E0%A4');
    assert.equal(auditActionOf('POST', '/function/my%2Dfn')?.nameFromPath, 'my-fn');
  });

  for (const [method, verb] of [['POST', 'Create'], ['PUT', 'Update'], ['DELETE', 'Delete']] as const) {
    it(`${method} /system/namespace/NS is Namespace:${verb} on NS`, () => {
      const found = auditActionOf(method, '/system/namespace/team-a');
      assert.equal(found?.action, `Namespace:${verb}`);
      assert.equal(found?.nameFromPath, 'team-a');
    });
  }

  it('an invocation, by any method, sync or async, is Function:Invoke on the path name (namespace suffix kept)', () => {
    const cases: Array<[string, string, string]> = [
      ['POST', '/function/echo', 'echo'],
      ['GET', '/function/echo', 'echo'],
      ['PUT', '/function/echo.openfaas-fn', 'echo.openfaas-fn'],
      ['DELETE', '/function/echo/items/7', 'echo'],
      ['PATCH', '/function/echo.team-a/x/y?z=1', 'echo.team-a'],
      ['POST', '/async-function/echo', 'echo'],
      ['POST', '/async-function/echo.team-a?callback=1', 'echo.team-a'],
    ];
    for (const [method, url, name] of cases) {
      const found = auditActionOf(method, url);
      assert.equal(found?.action, 'Function:Invoke', `${method} ${url}`);
      assert.equal(found?.nameFromPath, name, `${method} ${url}`);
      assert.equal(found?.bodyFields, undefined, 'an invocation body is never read');
    }
  });

  it('reads are not audited', () => {
    const reads: Array<[string, string]> = [
      ['GET', '/system/functions'],
      ['GET', '/system/functions?namespace=openfaas-fn'],
      ['HEAD', '/system/functions'],
      ['GET', '/system/function/echo?usage=1'],
      ['GET', '/system/secrets'],
      ['GET', '/system/namespaces'],
      ['GET', '/system/namespace/team-a'],
      ['GET', '/system/info'],
      ['GET', '/system/logs?name=echo&follow=true'],
      ['GET', '/system/scale-function/echo'],
      ['OPTIONS', '/system/functions'],
      ['GET', '/healthz'],
      ['HEAD', '/healthz'],
    ];
    for (const [method, url] of reads) assert.equal(auditActionOf(method, url), undefined, `${method} ${url}`);
  });

  it('the GraphQL API (queries only) and unknown paths are not audited', () => {
    assert.equal(auditActionOf('POST', '/graphql'), undefined);
    assert.equal(auditActionOf('POST', '/nope'), undefined);
    assert.equal(auditActionOf(undefined, '/system/functions'), undefined);
  });
});
