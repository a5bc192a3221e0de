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
 * every request and its fields are known: none of them can hold a token or a password. Fields
 * that cannot need quoting are written as they are: the request id (made here, or checked against
 * [A-Za-z0-9._:-]), the method (an HTTP token) and the route class.
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
    const json = this.log.encoding === 'json';
    const who = json ? jsonCaller(r) : consoleCaller(r);
    this.log.sink.write(json ? jsonLine(this.lastTime, r, who) : consoleLine(this.lastTime, r, who));
  }
}

/** Milliseconds to one decimal, without formatting a fractional number. */
function tenths(ms: number): string {
  const t = Math.round(ms * 10);
  return `${(t - (t % 10)) / 10}.${t % 10}`;
}

function jsonCaller(r: AccessRecord): string {
  let text = '';
  if (r.subject !== undefined) text += `,"subject":${JSON.stringify(r.subject)}`;
  if (r.client !== undefined) text += `,"client":${JSON.stringify(r.client)}`;
  return text;
}

function consoleCaller(r: AccessRecord): string {
  let text = '';
  if (r.subject !== undefined) text += ` subject=${consoleValue(r.subject)}`;
  if (r.client !== undefined) text += ` client=${consoleValue(r.client)}`;
  return text;
}

function jsonLine(time: string, r: AccessRecord, who: string): string {
  let line = `{"level":"info","time":"${time}","requestId":"${r.requestId}","method":"${r.method ?? ''}","path":${JSON.stringify(r.path)},"status":${r.status},"durationMs":${tenths(r.durationMs)},"route":"${r.route}"${who}`;
  if (r.reason !== undefined) line += `,"reason":${JSON.stringify(r.reason)}`;
  if (r.aborted) line += ',"aborted":true';
  return `${line},"msg":"request"}\n`;
}

function consoleLine(time: string, r: AccessRecord, who: string): string {
  let line = `${time} INFO  request requestId=${r.requestId} method=${r.method ?? ''} path=${consoleValue(r.path)} status=${r.status} durationMs=${tenths(r.durationMs)} route=${r.route}${who}`;
  if (r.reason !== undefined) line += ` reason=${consoleValue(r.reason)}`;
  if (r.aborted) line += ' aborted=true';
  return `${line}\n`;
}
