import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import { BYTES_PER_COLLECTION, StreamedMemory, V8Collect, v8Collector } from './streamed-memory';

const MiB = 1024 * 1024;

/** The kinds of collections V8 reports while `work` runs (perf_hooks gc entries). */
async function collectionsDuring(work: () => void): Promise<number[]> {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) kinds.push((entry as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    work();
    // gc entries are delivered asynchronously.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    observer.disconnect();
  }
  return kinds;
}

describe('StreamedMemory', () => {
  it('asks for one young-generation collection per BYTES_PER_COLLECTION streamed, and counts afresh after each', () => {
    const calls: unknown[] = [];
    const memory = new StreamedMemory((options) => calls.push(options));
    const chunk = 64 * 1024;
    const perCollection = BYTES_PER_COLLECTION / chunk;
    for (let i = 0; i < perCollection - 1; i++) memory.streamed(chunk);
    assert.equal(calls.length, 0, 'collected before BYTES_PER_COLLECTION had passed');
    memory.streamed(chunk);
    assert.deepEqual(calls, [{ type: 'minor' }]);
    for (let i = 0; i < perCollection - 1; i++) memory.streamed(chunk);
    assert.equal(calls.length, 1, 'the count did not start again after the collection');
    memory.streamed(chunk);
    assert.equal(calls.length, 2);
  });

  it('collects once for a chunk larger than the threshold, not once per threshold it spans', () => {
    let calls = 0;
    const memory = new StreamedMemory(() => calls++, 1 * MiB);
    memory.streamed(10 * MiB);
    assert.equal(calls, 1);
    memory.streamed(MiB - 1);
    assert.equal(calls, 1);
  });

  it('without a collector it only counts', () => {
    const memory = new StreamedMemory(undefined, 1);
    assert.doesNotThrow(() => memory.streamed(10 * MiB));
  });
});

describe('v8Collector', () => {
  const startedWithGc = process.execArgv.some((arg) => arg.startsWith('--expose-gc'));
  const collect = v8Collector() as V8Collect;

  it('returns V8 gc() without exposing it: neither this global object nor a new context gains `gc`', () => {
    assert.equal(typeof collect, 'function');
    if (!startedWithGc) assert.equal((globalThis as { gc?: unknown }).gc, undefined);
    assert.equal(runInNewContext('typeof gc'), 'undefined', 'the --expose-gc flag was left on');
  });

  it('runs a young-generation collection for { type: "minor" } and a full one without options', async () => {
    const minor = await collectionsDuring(() => collect({ type: 'minor' }));
    assert.ok(minor.includes(constants.NODE_PERFORMANCE_GC_MINOR), `kinds seen: ${minor.join(', ')}`);
    assert.ok(!minor.includes(constants.NODE_PERFORMANCE_GC_MAJOR), `a full collection for { type: "minor" }: ${minor.join(', ')}`);
    const full = await collectionsDuring(() => collect());
    assert.ok(full.includes(constants.NODE_PERFORMANCE_GC_MAJOR), `kinds seen: ${full.join(', ')}`);
  });

  it('a young-generation collection frees the memory of dead socket-read-sized buffers (what the relay relies on)', async () => {
    collect();
    const before = process.memoryUsage().arrayBuffers;
    // As node:http reads: a fresh 64 KiB backing store each time, dropped at once.
    for (let i = 0; i < 256; i++) Buffer.allocUnsafeSlow(64 * 1024)[0] = i;
    const piled = process.memoryUsage().arrayBuffers - before;
    assert.ok(piled >= 15 * MiB, `only ${(piled / MiB).toFixed(1)} MiB piled up: V8 collected them unasked`);
    collect({ type: 'minor' });
    // Backing stores may be freed by V8's sweeper thread just after the collection.
    let left = piled;
    for (let i = 0; i < 50 && left > MiB; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      left = process.memoryUsage().arrayBuffers - before;
    }
    assert.ok(left <= MiB, `${(left / MiB).toFixed(1)} MiB still held after the young-generation collection`);
  });
});
