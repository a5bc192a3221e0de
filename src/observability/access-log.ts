import { consoleValue } from './logger';
import type { AppLog } from './logger';

/** What one access line says about a request. */
export interface AccessRecord {
  requestId: string;
  method: string | undefined;
  path: string;
  status: number;
  durationMs: number;
  route: string;
  subject: string | undefined;
  client: string | undefined;
  reason: string | undefined;
  aborted: boolean;
}

/**
 * The access log: one line per request, in the same shape pino writes (JSON, or a console line),
 * built directly rather than through pino's generic serializer and redaction, because it runs on
 * every request and its fields are known: none of them can hold a token or a password.
 */
export class AccessLog {
  private lastMs = 0;
  private lastTime = '';

  constructor(private readonly log: AppLog) {}

  write(r: AccessRecord): void {
    if (!this.log.logger.isLevelEnabled('info')) return;
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.lastTime = new Date(now).toISOString();
    }
    const time = this.lastTime;
    const line = this.log.encoding === 'json' ? json(time, r) : consoleText(time, r);
    this.log.sink.write(line);
  }
}

function json(time: string, r: AccessRecord): string {
  let line = `{"level":"info","time":"${time}","requestId":${JSON.stringify(r.requestId)},"method":${JSON.stringify(r.method ?? '')},"path":${JSON.stringify(r.path)},"status":${r.status},"durationMs":${r.durationMs},"route":"${r.route}"`;
  if (r.subject !== undefined) line += `,"subject":${JSON.stringify(r.subject)}`;
  if (r.client !== undefined) line += `,"client":${JSON.stringify(r.client)}`;
  if (r.reason !== undefined) line += `,"reason":${JSON.stringify(r.reason)}`;
  if (r.aborted) line += ',"aborted":true';
  return `${line},"msg":"request"}\n`;
}

function consoleText(time: string, r: AccessRecord): string {
  let line = `${time} INFO  request requestId=${consoleValue(r.requestId)} method=${consoleValue(r.method ?? '')} path=${consoleValue(r.path)} status=${r.status} durationMs=${r.durationMs} route=${r.route}`;
  if (r.subject !== undefined) line += ` subject=${consoleValue(r.subject)}`;
  if (r.client !== undefined) line += ` client=${consoleValue(r.client)}`;
  if (r.reason !== undefined) line += ` reason=${consoleValue(r.reason)}`;
  if (r.aborted) line += ' aborted=true';
  return `${line}\n`;
}
