import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyRoute, pathProblem } from './route-class';

describe('classifyRoute', () => {
  it('proxies /system/*, /function/* and /async-function/* and nothing else', () => {
    const cases: Array<[string, string | undefined]> = [
      ['/system/functions', 'system'],
      ['/system/logs?name=echo&follow=true', 'system'],
      ['/function/echo', 'function'],
      ['/async-function/echo.openfaas-fn', 'function'],
      ['/system', undefined],
      ['/systemd/x', undefined],
      ['/System/functions', undefined],
      ['/functions/echo', undefined],
      ['http://gateway/system/functions', undefined],
      ['*', undefined],
      ['/graphql', undefined],
      ['/healthz', undefined],
    ];
    for (const [url, route] of cases) assert.equal(classifyRoute(url), route, url);
  });
});

describe('pathProblem', () => {
  it('lets ordinary paths and any query through', () => {
    for (const url of [
      '/system/functions',
      '/system/function/echo?namespace=openfaas-fn',
      '/function/echo/some/sub.path?q=../../x&p=%2F..%2F',
      '/function/echo/a%2Fb',
      '/function/echo/..hidden/x.',
      '/system/logs?name=echo&follow=true&since=2026-01-01T00:00:00Z',
    ]) {
      assert.equal(pathProblem(url), undefined, url);
    }
  });

  it('refuses what a server behind us could resolve to another route', () => {
    for (const url of [
      '/system/../function/echo',
      '/function/echo/..',
      '/function/./echo',
      '/system/%2e%2e/function/echo',
      '/system/%2E./function/echo',
      '/system/..%2Ffunction%2Fecho',
      '/system/..%2ffunction',
      '/function/echo%2F..%2F..%2Fsystem%2Fsecrets',
      '/system//functions',
      '/function/echo\\..\\system',
      '/function/echo%5C..%5Csystem',
      '/function/echo%00.js',
    ]) {
      assert.ok(pathProblem(url), url);
    }
  });
});
