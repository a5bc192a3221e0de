import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyRoute, RouteClass } from './route-class';

describe('classifyRoute', () => {
  it('proxies /system/*, /function/* and /async-function/*; Nest gets /graphql and /healthz exactly; the rest is nobody', () => {
    const cases: Array<[string, RouteClass]> = [
      ['/system/functions', 'system'],
      ['/system/logs?name=echo&follow=true', 'system'],
      ['/function/echo', 'function'],
      ['/async-function/echo.openfaas-fn', 'function'],
      ['/graphql', 'graphql'],
      ['/graphql?query={__typename}', 'graphql'],
      ['/healthz', 'health'],
      ['/healthz?x=1', 'health'],
      ['/system', 'other'],
      ['/systemd/x', 'other'],
      ['/System/functions', 'other'],
      ['/functions/echo', 'other'],
      ['http://gateway/system/functions', 'other'],
      ['http://gateway/graphql', 'other'],
      ['*', 'other'],
      ['/graphql/', 'other'],
      ['/graphql/x', 'other'],
      ['/graphql/.', 'other'],
      ['/GRAPHQL', 'other'],
      ['/GraphQL', 'other'],
      ['/graphql%2F', 'other'],
      ['/%67raphql', 'other'],
      ['//graphql', 'other'],
      ['/healthz/', 'other'],
      ['/HEALTHZ', 'other'],
      ['/', 'other'],
    ];
    for (const [url, route] of cases) assert.equal(classifyRoute(url), route, url);
  });
});
