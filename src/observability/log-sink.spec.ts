import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LogFile, LogSink, LogSinkOptions } from './log-sink';
import { waitUntil } from '../../test/support/wait';

/**
 * What a file does with the next write: take everything, take at most `budget` more bytes (then
 * refuse with EAGAIN, as a full non-blocking pipe does), or fail with an error code.
 */
type Mode = { kind: 'accept' } | { kind: 'budget'; bytes: number } | { kind: 'fail'; code: string };

/** An in-memory LogFile: keeps every accepted byte and every call, and behaves as `mode` says. */
class MemoryFile implements LogFile {
  mode: Mode = { kind: 'accept' };
  /** Every write call, also refused ones, with the bytes it offered. */
  readonly calls: Array<{ offered: number; taken: number }> = [];
  /** The bytes of each call that took some, as taken. */
  readonly writes: Buffer[] = [];

  write(data: Buffer, offset: number, length: number): number {
    const call = { offered: length, taken: 0 };
    this.calls.push(call);
    if (this.mode.kind === 'fail') throw Object.assign(new Error(`write failed: ${this.mode.code}`), { code: this.mode.code });
    let take = length;
    if (this.mode.kind === 'budget') {
      if (this.mode.bytes === 0) throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' });
      take = Math.min(length, this.mode.bytes);
      this.mode.bytes -= take;
    }
    // A copy: the sink reuses its buffer once a write has returned.
    this.writes.push(Buffer.from(data.subarray(offset, offset + take)));
    call.taken = take;
    return take;
  }

  get bytes(): Buffer {
    return Buffer.concat(this.writes);
  }

  get text(): string {
    return this.bytes.toString('utf8');
  }
}

const sinks: LogSink[] = [];

/** A sink over a fresh MemoryFile; every sink is ended after its test. */
function sinkOver(options: LogSinkOptions = {}): { sink: LogSink; file: MemoryFile } {
  const file = new MemoryFile();
  const sink = new LogSink(file, options);
  sinks.push(sink);
  return { sink, file };
}

const stalled = (): Mode => ({ kind: 'budget', bytes: 0 });
const notice = (lines: number) => `NOTICE ${lines} dropped\n`;

describe('LogSink', () => {
  afterEach(() => {
    for (const sink of sinks.splice(0)) sink.end();
  });

  it('batches many small lines into few writes, every byte in order, multi-byte UTF-8 included', () => {
    const { sink, file } = sinkOver();
    const lines = Array.from({ length: 2000 }, (_, i) => `${i} grüße 世界 ✓ 🙂 line ${'x'.repeat(i % 37)}\n`);
    for (const line of lines) sink.write(line);
    sink.flush();
    const expected = Buffer.from(lines.join(''), 'utf8');
    assert.ok(expected.length > 4 * 16_384, `enough bytes for several batches: ${expected.length}`);
    assert.ok(file.bytes.equals(expected), 'the bytes written are exactly the lines, in order');
    assert.equal(file.text, lines.join(''));
    // One write per full batch of 16 KiB, and one for the rest, at most: not one per line.
    const batches = Math.ceil(expected.length / 16_384);
    assert.ok(file.calls.length <= batches + 1, `${file.calls.length} writes for ${lines.length} lines (${expected.length} bytes)`);
    assert.ok(file.writes.slice(0, -1).every((w) => w.length >= 16_384 / 2), `batches: ${file.writes.map((w) => w.length).join(', ')}`);
  });

  it('writes a batch as soon as batchBytes wait, within write() itself', () => {
    const { sink, file } = sinkOver({ batchBytes: 100, flushMs: 60_000 });
    const line = '123456789\n';
    for (let i = 1; i <= 9; i++) {
      sink.write(line);
      assert.equal(file.calls.length, 0, `nothing is written while ${i * 10} of 100 bytes wait`);
    }
    sink.write(line);
    assert.equal(file.calls.length, 1, 'the 100th byte sends the batch at once');
    assert.equal(file.text, line.repeat(10));
  });

  it('writes fewer than batchBytes at the latest flushMs after the first of them', async () => {
    const { sink, file } = sinkOver({ flushMs: 20 });
    const started = performance.now();
    sink.write('a short line\n');
    sink.write('and another\n');
    assert.equal(file.calls.length, 0, 'a short batch waits');
    await waitUntil(() => file.calls.length > 0, 2000, { message: 'the short batch was never written' });
    const waited = performance.now() - started;
    assert.ok(waited >= 15, `written after ${waited.toFixed(1)} ms, before flushMs`);
    assert.equal(file.calls.length, 1, 'both lines in one write');
    assert.equal(file.text, 'a short line\nand another\n');
  });

  it('flush() writes what waits at once', () => {
    const { sink, file } = sinkOver({ flushMs: 60_000 });
    sink.write('pending\n');
    assert.equal(file.calls.length, 0);
    sink.flush();
    assert.equal(file.text, 'pending\n');
    sink.flush();
    assert.equal(file.calls.length, 1, 'a flush with nothing waiting writes nothing');
  });

  it('end() writes what waits at once and stops the timer: nothing is retried after it', async () => {
    const { sink, file } = sinkOver({ flushMs: 20 });
    sink.write('last words\n');
    sink.end();
    assert.equal(file.text, 'last words\n');

    // A stalled sink arms a retry timer; end() must stop it.
    const other = sinkOver({ flushMs: 20 });
    other.file.mode = stalled();
    other.sink.write('never retried\n');
    other.sink.flush();
    assert.equal(other.file.writes.length, 0);
    other.sink.end();
    const attempts = other.file.calls.length;
    other.file.mode = { kind: 'accept' };
    // A control that does retry, on the same clock: once it has, the ended sink would have too.
    const control = sinkOver({ flushMs: 20 });
    control.file.mode = stalled();
    control.sink.write('retried\n');
    control.sink.flush();
    control.file.mode = { kind: 'accept' };
    // Armed after the ended sink's timer, with the same delay: it fires after that one would have.
    await waitUntil(() => control.file.text === 'retried\n', 2000, { message: 'the control sink never retried' });
    assert.equal(other.file.calls.length, attempts, 'the ended sink tried to write again');
    assert.equal(file.calls.length, 1);
  });

  it('writes a line longer than its buffer whole, after what waited before it and before what follows', () => {
    const { sink, file } = sinkOver({ batchBytes: 64, flushMs: 60_000 });
    const long = `${'é'.repeat(100)}${'L'.repeat(200)}\n`;
    sink.write('before\n');
    sink.write(long);
    sink.write('after\n');
    sink.flush();
    assert.equal(file.text, `before\n${long}after\n`);
    assert.ok(Buffer.byteLength(long) > 2 * 64);
    assert.ok(
      file.writes.some((w) => w.equals(Buffer.from(long))),
      `the long line goes out in one write: ${file.writes.map((w) => w.length).join(', ')}`,
    );
  });

  it('loses nothing while the file refuses with EAGAIN: the bytes are retried and arrive in order', async () => {
    const { sink, file } = sinkOver({ batchBytes: 64, flushMs: 20 });
    const lines = Array.from({ length: 50 }, (_, i) => `stalled line ${i} ✓\n`);
    file.mode = stalled();
    for (const line of lines.slice(0, 25)) sink.write(line);
    sink.flush();
    for (const line of lines.slice(25)) sink.write(line);
    assert.equal(file.writes.length, 0, 'nothing was taken while the file refused');
    assert.ok(file.calls.length > 0, 'the sink did try');
    file.mode = { kind: 'accept' };
    const expected = lines.join('');
    await waitUntil(() => file.text.length >= expected.length, 2000, { message: `only ${file.text.length} of ${expected.length} characters arrived` });
    assert.equal(file.text, expected);
  });

  it('loses nothing when the file takes only part of a write: the rest follows, in order, once it takes more', async () => {
    const { sink, file } = sinkOver({ batchBytes: 64, flushMs: 20 });
    const lines = Array.from({ length: 40 }, (_, i) => `partial ${i} 世界\n`);
    const expected = Buffer.from(lines.join(''), 'utf8');
    // The pipe takes 7 bytes (splitting a multi-byte character), then refuses.
    file.mode = { kind: 'budget', bytes: 7 };
    for (const line of lines.slice(0, 20)) sink.write(line);
    sink.flush();
    assert.equal(file.bytes.length, 7);
    file.mode = { kind: 'budget', bytes: 100 };
    for (const line of lines.slice(20)) sink.write(line);
    sink.flush();
    await waitUntil(() => file.bytes.length === 107, 2000, { message: `took ${file.bytes.length} of 107 bytes` });
    file.mode = { kind: 'accept' };
    await waitUntil(() => file.bytes.length >= expected.length, 2000, { message: `${file.bytes.length} of ${expected.length} bytes arrived` });
    assert.ok(file.bytes.equals(expected), 'the bytes arrive exactly once, in order');
  });

  it('beyond maxPendingBytes drops lines while stalled, then writes one notice with the count before later lines', async () => {
    const maxPendingBytes = 200;
    const { sink, file } = sinkOver({ batchBytes: 64, flushMs: 20, maxPendingBytes, dropNotice: notice });
    file.mode = stalled();
    sink.write('first\n');
    sink.flush();
    const offered = Array.from({ length: 100 }, (_, i) => `line-${String(i).padStart(3, '0')}\n`);
    for (const line of offered) sink.write(line);
    file.mode = { kind: 'accept' };
    // Writing resumes (the retry timer or a flush).
    await waitUntil(() => file.text.includes('NOTICE'), 2000, { message: 'no drop notice once writing resumed' });
    const later = ['later-1\n', 'later-2\n'];
    for (const line of later) sink.write(line);
    sink.flush();

    const out = file.text.split(/(?<=\n)/);
    const notices = out.filter((l) => l.startsWith('NOTICE'));
    assert.equal(notices.length, 1, `exactly one notice: ${JSON.stringify(notices)}`);
    const kept = out.filter((l) => l.startsWith('line-'));
    // The lines that did arrive are a prefix of those offered: dropping starts at the cap and stays.
    assert.deepEqual(kept, offered.slice(0, kept.length));
    const dropped = offered.length - kept.length;
    assert.ok(kept.length > 0 && dropped > 0, `kept ${kept.length}, dropped ${dropped}`);
    const pendingWhenFull = Buffer.byteLength(`first\n${kept.join('')}`);
    assert.ok(pendingWhenFull <= maxPendingBytes, `${pendingWhenFull} bytes were kept waiting, more than ${maxPendingBytes}`);
    assert.ok(pendingWhenFull + Buffer.byteLength(offered[kept.length] as string) > maxPendingBytes, 'a line that fit was dropped');
    assert.equal(notices[0], notice(dropped), 'the notice counts exactly the dropped lines');
    assert.equal(out[0], 'first\n');
    assert.deepEqual(out.slice(-2), later, 'later lines follow the notice');
    assert.ok(out.indexOf(notices[0] as string) < out.indexOf('later-1\n'));
    assert.equal(out.length, 1 + kept.length + 1 + later.length, 'nothing else was written');
  });

  it('the notice follows every line logged before the first drop, and precedes the lines logged after it', () => {
    const { sink, file } = sinkOver({ batchBytes: 64, flushMs: 1000, maxPendingBytes: 40, dropNotice: notice });
    file.mode = stalled();
    sink.write('stalled\n');
    sink.flush();
    sink.write('A\n');
    sink.write('B\n');
    sink.write(`${'C'.repeat(40)}\n`); // over the cap: dropped
    sink.write('D\n'); // fits again: kept, after the drop
    file.mode = { kind: 'accept' };
    sink.flush();
    assert.equal(file.text, `stalled\nA\nB\n${notice(1)}D\n`);
  });

  it('a second stall after a reported drop is counted afresh', async () => {
    const { sink, file } = sinkOver({ batchBytes: 64, flushMs: 20, maxPendingBytes: 50, dropNotice: notice });
    for (const round of [1, 2]) {
      file.mode = stalled();
      sink.write(`round ${round}\n`);
      sink.flush();
      for (let i = 0; i < 10 * round; i++) sink.write('0123456789abcdef\n');
      file.mode = { kind: 'accept' };
      sink.flush();
    }
    const notices = file.text.split('\n').filter((l) => l.startsWith('NOTICE'));
    // 50 bytes hold "round N\n" and two 17-byte lines; the rest of each round is dropped.
    assert.deepEqual(notices, ['NOTICE 8 dropped', 'NOTICE 18 dropped']);
  });

  for (const code of ['EPIPE', 'EBADF']) {
    it(`a file failing with ${code} loses those lines without throwing, and later writes do not throw either`, () => {
      const { sink, file } = sinkOver({ batchBytes: 64, flushMs: 60_000 });
      file.mode = { kind: 'fail', code };
      assert.doesNotThrow(() => {
        for (let i = 0; i < 20; i++) sink.write(`gone ${i}\n`);
        sink.write(`${'x'.repeat(500)}\n`);
        sink.flush();
      });
      const attempts = file.calls.length;
      assert.ok(attempts > 0 && attempts < 10, `${attempts} attempts: ${code} is not retried`);
      file.mode = { kind: 'accept' };
      assert.doesNotThrow(() => {
        sink.write('back\n');
        sink.flush();
      });
      assert.equal(file.text, 'back\n', 'the lost lines are not retried; new ones are written');
    });
  }
});
