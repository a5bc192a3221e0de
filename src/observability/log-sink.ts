import { writeSync } from 'node:fs';

/** What a log sink needs from the file it writes to; tests pass their own. */
export interface LogFile {
  /** Writes bytes from `offset`, returns how many were taken; throws like fs.writeSync. */
  write(data: Buffer, offset: number): number;
}

export interface LogSinkOptions {
  /** Lines are written once this many characters wait (one system call per batch). */
  batchChars?: number;
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
 * Where the gateway's log lines go: stdout, in batches written by this thread. One line per
 * request would cost a system call each, and a thread-pool stream (pino.destination with
 * sync: false) a hand-off to another thread per batch plus its wake-ups; here a line is
 * appended to a string, and a batch goes out in one write when BATCH_CHARS characters wait, at
 * the latest FLUSH_MS after the first of them, when the gateway closes and when the process
 * exits. Lines keep their order (the app log and the access log share this sink).
 *
 * When stdout cannot take more (a non-blocking pipe whose reader stalls), the unwritten bytes
 * are kept and retried; beyond maxPendingBytes new lines are dropped rather than letting memory
 * grow, and once writing resumes one line says how many were lost.
 */
export class LogSink {
  private pending = '';
  /** Bytes already taken off `pending` that stdout has not accepted yet. */
  private stalled: Buffer | undefined;
  private stalledAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private droppedLines = 0;
  private readonly batchChars: number;
  private readonly flushMs: number;
  private readonly maxPendingBytes: number;
  private readonly dropNotice: (lines: number) => string;

  constructor(
    private readonly file: LogFile = stdout,
    options: LogSinkOptions = {},
  ) {
    this.batchChars = options.batchChars ?? 16_384;
    this.flushMs = options.flushMs ?? 250;
    this.maxPendingBytes = options.maxPendingBytes ?? 8 * 1024 * 1024;
    this.dropNotice = options.dropNotice ?? ((lines) => `${lines} log lines were dropped: stdout did not keep up\n`);
    sinks.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', () => {
        for (const sink of sinks) sink.flush();
      });
    }
  }

  /** Lines dropped so far because stdout did not keep up. */
  get dropped(): number {
    return this.droppedLines;
  }

  /** Takes one or more whole lines, each ending in a newline. */
  write(lines: string): void {
    if (this.stalled !== undefined && this.stalled.length - this.stalledAt + this.pending.length > this.maxPendingBytes) {
      this.droppedLines++;
      return;
    }
    this.pending += lines;
    if (this.pending.length >= this.batchChars && this.stalled === undefined) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(flushSoon, this.flushMs, this);
      this.timer.unref();
    }
  }

  /** Writes whatever waits, now (pino calls this at exit, the gateway when it closes). */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.stalled === undefined) {
      if (this.pending.length === 0) return;
      this.stalled = Buffer.from(this.pending, 'utf8');
      this.stalledAt = 0;
      this.pending = '';
    }
    if (!this.drain()) return;
    if (this.droppedLines > 0) {
      this.pending = this.dropNotice(this.droppedLines) + this.pending;
      this.droppedLines = 0;
    }
    if (this.pending.length > 0) {
      this.timer = setTimeout(flushSoon, this.flushMs, this);
      this.timer.unref();
    }
  }

  flushSync(): void {
    this.flush();
  }

  /** Stops writing on a timer and writes what waits (the gateway's close). */
  end(): void {
    this.flush();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    sinks.delete(this);
  }

  /** Writes the stalled bytes; false (and a retry scheduled) when stdout would block. */
  private drain(): boolean {
    const data = this.stalled as Buffer;
    while (this.stalledAt < data.length) {
      try {
        this.stalledAt += this.file.write(data, this.stalledAt);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.timer = setTimeout(flushSoon, Math.min(this.flushMs, 50), this);
          this.timer.unref();
          return false;
        }
        // stdout is gone (EPIPE, EBADF): nothing can be logged; drop rather than retry forever.
        break;
      }
    }
    this.stalled = undefined;
    return true;
  }
}

function flushSoon(sink: LogSink): void {
  sink.flush();
}

const stdout: LogFile = {
  write: (data, offset) => writeSync(1, data, offset, data.length - offset),
};
