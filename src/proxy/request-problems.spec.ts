import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { framingProblem, pathProblem } from './request-problems';

const req = (method: string, headers: Record<string, string> = {}) => ({ method, headers }) as unknown as IncomingMessage;

describe('framingProblem', () => {
  it('accepts no Transfer-Encoding and plain chunked', () => {
    assert.equal(framingProblem(req('POST')), undefined);
    assert.equal(framingProblem(req('POST', { 'transfer-encoding': 'chunked' })), undefined);
    assert.equal(framingProblem(req('PUT', { 'transfer-encoding': ' CHUNKED ' })), undefined);
    assert.equal(framingProblem(req('DELETE', { 'content-length': '12' })), undefined);
  });

  it('refuses any other coding, which would be dropped on the way', () => {
    for (const coding of ['gzip, chunked', 'deflate,chunked', 'identity']) {
      assert.match(framingProblem(req('POST', { 'transfer-encoding': coding })) ?? '', /Transfer-Encoding/, coding);
    }
  });

  it("refuses a chunked DELETE or OPTIONS body, which http-proxy's deleteLength pass would unframe", () => {
    for (const method of ['DELETE', 'OPTIONS']) {
      assert.match(framingProblem(req(method, { 'transfer-encoding': 'chunked' })) ?? '', /Content-Length/, method);
    }
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
