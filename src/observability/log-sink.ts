import { writeSync } from 'node:fs';

/** What a log sink needs from the file it writes to; tests pass their own. */
export interface LogFile {
  /** Writes `length` bytes of `data` from `offset`, returns how many were taken; throws like fs.writeSync. */
  write(data: Buffer, offset: number, length: number): number;
}

export interface LogSinkOptions {
  /** Lines are written once this many bytes wait (one system call per batch). */
  batchBytes?: number;
  /** ... and at the latest this long after the first of them. */
  flushMs?: number;
  /** While the reader of stdout does not keep up, at most this many bytes wait; later lines are dropped and counted. */
  maxPendingBytes?: number;
  /** The line that reports dropped lines once writing resumes, in the log's encoding. */
  dropNotice?: (lines: number) => string;
}

const sinks = new Set<LogSink>();
let exitHooked = false;

/**
 * Where the gateway's log lines go: stdout, in batches written by this thread. One write per line
 * would cost a system call each, and a thread-pool stream (pino.destination with sync: false) a
 * hand-off to another thread per batch plus its wake-ups. Here each line is encoded into a buffer
 * as it comes, and the buffer goes out in one write when batchBytes wait, at the latest flushMs
 * after the first of them, when the gateway closes and when the process exits. Lines keep their
 * order (the app log and the access log share one sink).
 *
 * When stdout cannot take more (a non-blocking pipe whose reader stalls), the unwritten bytes are
 * kept and retried; beyond maxPendingBytes new lines are dropped rather than letting memory grow,
 * and once writing resumes one line says how many were lost.
 */
export class LogSink {
  private readonly buffer: Buffer;
  private used = 0;
  /** Bytes stdout has not taken yet, oldest first, with how far the first has been written. */
  private readonly stalled: Buffer[] = [];
  private stalledAt = 0;
  private stalledBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private droppedLines = 0;
  private readonly batchBytes: number;
  private readonly flushMs: number;
  private readonly maxPendingBytes: number;
  private readonly dropNotice: (lines: number) => string;

  constructor(
    private readonly file: LogFile = stdout,
    options: LogSinkOptions = {},
  ) {
    this.batchBytes = options.batchBytes ?? 16_384;
    this.flushMs = options.flushMs ?? 250;
    this.maxPendingBytes = options.maxPendingBytes ?? 8 * 1024 * 1024;
    this.dropNotice = options.dropNotice ?? ((lines) => `${lines} log lines were dropped: stdout did not keep up\n`);
    this.buffer = Buffer.allocUnsafe(this.batchBytes * 2);
    sinks.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', () => {
        for (const sink of sinks) sink.flush();
      });
    }
  }

  /** Takes one or more whole lines, each ending in a newline. */
  write(lines: string): void {
    if (this.stalledBytes > 0 && this.stalledBytes + this.used + lines.length > this.maxPendingBytes) {
      // What was logged before the first drop goes out before the notice that reports the drops.
      if (this.droppedLines === 0 && this.used > 0) {
        this.keep(Buffer.from(this.buffer.subarray(0, this.used)));
        this.used = 0;
      }
      this.droppedLines++;
      return;
    }
    // A UTF-8 character takes at most three bytes per UTF-16 code unit.
    if (this.used + lines.length * 3 > this.buffer.length) {
      this.flush();
      if (lines.length * 3 > this.buffer.length) {
        this.send(Buffer.from(lines, 'utf8'));
        return;
      }
    }
    this.used += this.buffer.write(lines, this.used, 'utf8');
    if (this.used >= this.batchBytes && this.stalledBytes === 0) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(flushSoon, this.flushMs, this);
      this.timer.unref();
    }
  }

  /** Writes whatever waits, now (pino calls flushSync at exit, the gateway end() when it closes). */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.droppedLines > 0 && this.drain()) {
      const notice = Buffer.from(this.dropNotice(this.droppedLines), 'utf8');
      this.droppedLines = 0;
      this.send(notice);
    }
    if (this.used === 0) {
      this.drain();
      return;
    }
    const used = this.used;
    this.used = 0;
    if (this.stalledBytes === 0) {
      const written = this.writeSome(this.buffer, 0, used);
      if (written < used) this.keep(Buffer.from(this.buffer.subarray(written, used)));
    } else {
      this.keep(Buffer.from(this.buffer.subarray(0, used)));
      this.drain();
    }
  }

  flushSync(): void {
    this.flush();
  }

  /** Writes what waits and stops the flush timer (the gateway's close). */
  end(): void {
    this.flush();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    sinks.delete(this);
  }

  /** Writes bytes that cannot wait in the buffer (a line longer than it, the drop notice). */
  private send(data: Buffer): void {
    if (this.stalledBytes === 0) {
      const written = this.writeSome(data, 0, data.length);
      if (written < data.length) this.keep(data.subarray(written));
    } else {
      this.keep(data);
      this.drain();
    }
  }

  private keep(data: Buffer): void {
    this.stalled.push(data);
    this.stalledBytes += data.length;
    this.retryLater();
  }

  /** Writes the stalled bytes, oldest first; true once none are left. */
  private drain(): boolean {
    while (this.stalled.length > 0) {
      const data = this.stalled[0];
      const written = this.writeSome(data, this.stalledAt, data.length - this.stalledAt);
      this.stalledAt += written;
      this.stalledBytes -= written;
      if (this.stalledAt < data.length) {
        this.retryLater();
        return false;
      }
      this.stalled.shift();
      this.stalledAt = 0;
    }
    return true;
  }

  /** Writes as much as stdout takes now; the count written (less than asked when it would block). */
  private writeSome(data: Buffer, offset: number, length: number): number {
    let written = 0;
    while (written < length) {
      try {
        written += this.file.write(data, offset + written, length - written);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return written;
        // stdout is gone (EPIPE, EBADF): nothing can be logged; drop rather than retry forever.
        return length;
      }
    }
    return written;
  }

  private retryLater(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(flushSoon, Math.min(this.flushMs, 50), this);
    this.timer.unref();
  }
}

function flushSoon(sink: LogSink): void {
  sink.flush();
}

const stdout: LogFile = {
  write: (data, offset, length) => writeSync(1, data, offset, length),
};
