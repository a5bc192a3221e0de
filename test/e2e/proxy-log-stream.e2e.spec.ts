import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStream, StreamingResponse } from '../support/http-client';
import { sleep, waitUntil } from '../support/wait';
import { ProxyService } from '../../src/proxy/proxy.service';
import { Harness } from './harness';

/** Every server-side timeout far shorter than the idle gaps below. */
const TIMEOUTS = { read_timeout: '1s', write_timeout: '1s', upstream_timeout: '500ms' };
const IDLE_MS = 2500;

describe('proxy: /system/logs?follow=true', () => {
  let h: Harness;
  let authorization: string;

  before(async () => {
    h = await Harness.start({ env: TIMEOUTS });
    authorization = `Bearer ${await h.token()}`;
  });
  after(() => h?.close());

  /** Opens `n` followed log streams, from none, and waits until OpenFaaS serves all of them. */
  async function follow(n: number): Promise<StreamingResponse[]> {
    await waitUntil(() => h.openfaas.activeLogStreams === 0, 2000, { message: 'a log stream of an earlier test is still open' });
    const streams = await Promise.all(
      // since=now: the stand-in replays stored lines to a new follower, as OpenFaaS does.
      Array.from({ length: n }, () => openStream(`${h.url}/system/logs?name=echo&follow=true&since=${new Date().toISOString()}`, { headers: { authorization }, timeoutMs: 3000 })),
    );
    for (const stream of streams) {
      assert.equal(stream.status, 200, 'the 200 arrives before any log line');
      assert.match(String(stream.headers['content-type']), /ndjson/);
    }
    await waitUntil(() => h.openfaas.activeLogStreams === n, 2000);
    return streams;
  }

  it('streams line by line for as long as it runs: idle gaps longer than every server timeout do not cut it', async () => {
    const [stream] = await follow(1);
    try {
      for (const text of ['first', 'after an idle gap', 'after another one']) {
        h.openfaas.emitLog('echo', text);
        const line = await stream.nextLine(2000);
        assert.equal(JSON.parse(line ?? 'null').text, text);
        await sleep(IDLE_MS);
      }
      h.openfaas.emitLog('echo', 'still here');
      assert.equal(JSON.parse((await stream.nextLine(2000)) ?? 'null').text, 'still here');
    } finally {
      stream.close();
    }
  });

  it('ends cleanly for the caller when OpenFaaS ends the stream', async () => {
    const [stream] = await follow(1);
    h.openfaas.emitLog('echo', 'last words');
    assert.equal(JSON.parse((await stream.nextLine(2000)) ?? 'null').text, 'last words');
    h.openfaas.endLogs();
    assert.equal(await stream.nextLine(2000), null, 'a clean end of the body, not an error');
  });

  it('when the caller goes away, the upstream stream is closed too', async () => {
    const streams = await follow(20);
    await sleep(IDLE_MS / 2);
    for (const stream of streams) stream.close();
    await waitUntil(() => h.openfaas.activeLogStreams === 0, 2000, {
      message: `${h.openfaas.activeLogStreams} upstream log streams left open after their callers left`,
    });
    await waitUntil(() => h.gateway.app.get(ProxyService).upstreamSockets().active === 0, 2000);
  });
});
