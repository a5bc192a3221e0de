import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FedgwError } from './lib/fedgw-error';
import { runFleet } from './fleet-runner';
import { sleep } from '../../test/support/wait';

describe('runFleet', () => {
  it('runs at most `concurrency` items at once and keeps the items order', async () => {
    let running = 0;
    let peak = 0;
    const outcomes = await runFleet([30, 5, 20, 1, 10, 2], { concurrency: 2, timeoutMs: 5_000 }, async (ms) => {
      peak = Math.max(peak, ++running);
      await sleep(ms);
      running--;
      return ms * 2;
    });
    assert.equal(peak, 2);
    assert.deepEqual(outcomes, [30, 5, 20, 1, 10, 2].map((ms) => ({ ok: true, value: ms * 2 })));
  });

  it('one failure or hang is that item outcome only; each gets its own deadline', async () => {
    const settled: number[] = [];
    const started = Date.now();
    const outcomes = await runFleet(
      ['hang', 'fail', 'ok', 'aware'],
      { concurrency: 4, timeoutMs: 150, onSettled: (done) => settled.push(done) },
      (item, signal) => {
        if (item === 'hang') return new Promise<string>(() => {});
        if (item === 'fail') return Promise.reject(new FedgwError('gateway', 'gateway x unreachable: connect ECONNREFUSED'));
        if (item === 'aware') {
          return new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(new FedgwError('timeout', 'timed out calling the gateway'))));
        }
        return Promise.resolve('fine');
      },
    );
    assert.deepEqual(outcomes, [
      { ok: false, error: 'timed out after 150ms' },
      { ok: false, error: 'gateway x unreachable: connect ECONNREFUSED' },
      { ok: true, value: 'fine' },
      { ok: false, error: 'timed out calling the gateway (after 150ms)' },
    ]);
    assert.deepEqual(settled, [1, 2, 3, 4]);
    assert.ok(Date.now() - started < 1_500);
  });
});
