import { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger, LoggerOptions } from 'pino';

/** Field names that must never be logged with their values, at any depth. */
const SECRET_FIELDS = new Set(['authorization', 'password', 'token', 'secret', 'cookie', 'proxy-authorization']);
const CENSOR = '[redacted]';

/** A copy of a log record with every secret-named field censored, however deep it sits. */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > 8) return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  let copy: Record<string, unknown> | undefined;
  for (const [key, inner] of Object.entries(value)) {
    const next = SECRET_FIELDS.has(key.toLowerCase()) ? CENSOR : redactDeep(inner, depth + 1);
    if (next !== inner) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = next;
    }
  }
  return copy ?? value;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'context', 'pid', 'hostname']);

/** A value as console lines show it: bare when it has no whitespace, else JSON-quoted. */
export function consoleValue(value: unknown): string {
  return typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value);
}

/** One readable line per record: time, level, [context], message, then key=value pairs. */
export function consoleLine(record: Record<string, unknown>): string {
  const time = new Date(record.time as number).toISOString();
  const level = (LEVEL_NAMES[record.level as number] ?? String(record.level)).padEnd(5);
  const context = record.context ? ` [${String(record.context)}]` : '';
  const pairs = Object.entries(record)
    .filter(([key, value]) => !OMIT.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${consoleValue(value)}`)
    .join(' ');
  const message = String(record.msg ?? '').replace(/\r?\n/g, '\\n');
  return `${time} ${level}${context} ${message}${pairs ? ` ${pairs}` : ''}\n`;
}

export interface LogSettings {
  encoding: 'console' | 'json';
  debug: boolean;
}

/** The process's logging: the pino logger, and the stream its lines go to (the access log writes there too). */
export interface AppLog {
  readonly logger: Logger;
  readonly sink: DestinationStream;
  readonly encoding: 'console' | 'json';
  /** Writes the lines that wait in the buffer now. */
  flush(): void;
}

/** Lines wait in memory until this many bytes are ready (one write for many lines; sonic-boom writes at most 16 KiB at once) ... */
const LOG_BATCH_BYTES = 16_000;
/** ... or this long, whichever comes first. */
const LOG_FLUSH_MS = 250;
/** While stdout does not keep up, at most this much waits; later lines are dropped and counted. */
const LOG_MAX_PENDING_BYTES = 8 * 1024 * 1024;

/**
 * The process logger: pino, one JSON object per line (log_encoding=json), or the same records as
 * readable lines (console). Known secret-bearing fields are redacted wherever they appear. Lines
 * go to stdout through pino's own buffered destination (sonic-boom): in batches, at the latest a
 * quarter second after they were logged, and at exit.
 */
export function createLogger(settings: LogSettings, destination?: DestinationStream): AppLog {
  const own = destination === undefined ? stdoutDestination(settings.encoding) : undefined;
  const sink: DestinationStream = own ?? (destination as DestinationStream);
  const flush = () => own?.flushSync();
  const options: LoggerOptions = {
    level: settings.debug ? 'debug' : 'info',
    base: undefined,
    formatters: { level: (_label, number) => ({ level: number }), log: (record) => redactDeep(record) as Record<string, unknown> },
  };
  if (settings.encoding === 'json') {
    const logger = pino(
      { ...options, timestamp: pino.stdTimeFunctions.isoTime, formatters: { ...options.formatters, level: (label) => ({ level: label }) } },
      sink,
    );
    return { logger, sink, encoding: 'json', flush };
  }
  const logger = pino(options, {
    write(line: string) {
      sink.write(consoleLine(JSON.parse(line) as Record<string, unknown>));
    },
  });
  return { logger, sink, encoding: 'console', flush };
}

/** stdout through sonic-boom; lines it had to drop are counted and reported once writing resumes. */
function stdoutDestination(encoding: 'console' | 'json') {
  const stdout = pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS, maxLength: LOG_MAX_PENDING_BYTES });
  let dropped = 0;
  stdout.on('drop', (data: string) => {
    dropped += data.split('\n').length - 1 || 1;
  });
  stdout.on('write', () => {
    if (dropped === 0) return;
    const lines = dropped;
    dropped = 0;
    const record = { level: 40, time: Date.now(), msg: `${lines} log lines were dropped: stdout did not keep up` };
    stdout.write(encoding === 'json' ? `${JSON.stringify({ ...record, level: 'warn', time: new Date(record.time).toISOString() })}\n` : consoleLine(record));
  });
  return stdout;
}

/** Nest's logger interface over pino, so framework and gateway logs share one stream and format. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }

  error(message: unknown, stackOrContext?: string, context?: string): void {
    const hasStack = context !== undefined;
    this.logger.error({ context: hasStack ? context : stackOrContext, ...(hasStack && stackOrContext ? { stack: stackOrContext } : {}) }, text(message));
  }

  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }

  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }

  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }

  fatal(message: unknown, context?: string): void {
    this.write('fatal', message, context);
  }

  private write(level: 'info' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, context?: string): void {
    if (isPlainObject(message)) {
      // Fields, not a string, so that redaction sees them.
      this.logger[level]({ context, ...message });
    } else {
      this.logger[level]({ context }, text(message));
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Error);
}

function text(message: unknown): string {
  if (typeof message === 'string') return message;
  if (message instanceof Error) return message.message;
  return JSON.stringify(message);
}
