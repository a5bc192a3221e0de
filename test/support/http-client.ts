import http, { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string | NodeJS.ReadableStream;
  /** Reject (and abort) when the response headers, or any later body chunk, take longer; default 10 s. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json<T = any>(): T;
}

/** One HTTP request on a fresh connection (no agent, no keep-alive reuse); resolves with the full response. */
export async function request(url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
  const stream = await openStream(url, opts);
  try {
    const body = await stream.readAll();
    const text = body.toString('utf8');
    return { status: stream.status, headers: stream.headers, body, text, json: () => JSON.parse(text) };
  } finally {
    stream.close();
  }
}

/** A response whose body is consumed incrementally (chunk by chunk or line by line). */
export interface StreamingResponse {
  status: number;
  headers: IncomingHttpHeaders;
  response: IncomingMessage;
  /** The next body chunk as delivered by the socket, or null at the end of the body. */
  nextChunk(timeoutMs?: number): Promise<Buffer | null>;
  /** The next `\n`-terminated line (without the newline), or null at the end of the body. */
  nextLine(timeoutMs?: number): Promise<string | null>;
  /** The rest of the body. */
  readAll(): Promise<Buffer>;
  /** Destroys the connection (a client abort). */
  close(): void;
}

/** Sends a request on a fresh connection and resolves as soon as the response headers arrive. */
export function openStream(url: string, opts: RequestOptions = {}): Promise<StreamingResponse> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: withFraming(opts), agent: false });
    const timer = setTimeout(() => req.destroy(new Error(`no response headers from ${url} within ${timeoutMs}ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      resolve(new BodyReader(req, res, timeoutMs));
    });
    const { body } = opts;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      const source = body instanceof Readable ? body : Readable.from(body as AsyncIterable<Buffer>);
      source.on('error', (err) => req.destroy(err));
      source.pipe(req);
    }
  });
}

/**
 * Adds Content-Length (or, for streams, chunked encoding) when the caller set neither: node:http
 * frames no body at all for DELETE, GET and the like, so the server would never see it.
 */
function withFraming({ headers = {}, body }: RequestOptions): Record<string, string | string[]> {
  const framed = Object.keys(headers).some((h) => /^(content-length|transfer-encoding)$/i.test(h));
  if (body === undefined || framed) return headers;
  if (typeof body === 'string' || Buffer.isBuffer(body)) return { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
  return { ...headers, 'Transfer-Encoding': 'chunked' };
}

class BodyReader implements StreamingResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  private readonly chunks: Buffer[] = [];
  private pendingLine = '';
  private ended = false;
  private failure?: Error;
  private wake?: () => void;

  constructor(
    private readonly req: http.ClientRequest,
    readonly response: IncomingMessage,
    private readonly timeoutMs: number,
  ) {
    this.status = response.statusCode ?? 0;
    this.headers = response.headers;
    response.on('data', (chunk: Buffer) => this.push(() => this.chunks.push(chunk)));
    response.on('end', () => this.push(() => (this.ended = true)));
    response.on('error', (err) => this.push(() => (this.failure ??= err)));
    response.on('close', () => this.push(() => (this.failure ??= this.ended ? undefined : new Error('connection closed before the body ended'))));
  }

  async nextChunk(timeoutMs = this.timeoutMs): Promise<Buffer | null> {
    await this.until(() => this.chunks.length > 0 || this.ended || this.failure !== undefined, timeoutMs);
    const chunk = this.chunks.shift();
    if (chunk) return chunk;
    if (this.ended) return null;
    throw this.failure;
  }

  async nextLine(timeoutMs = this.timeoutMs): Promise<string | null> {
    for (;;) {
      const newline = this.pendingLine.indexOf('\n');
      if (newline >= 0) {
        const line = this.pendingLine.slice(0, newline);
        this.pendingLine = this.pendingLine.slice(newline + 1);
        return line;
      }
      const chunk = await this.nextChunk(timeoutMs);
      if (chunk === null) {
        const rest = this.pendingLine;
        this.pendingLine = '';
        return rest === '' ? null : rest;
      }
      this.pendingLine += chunk.toString('utf8');
    }
  }

  async readAll(): Promise<Buffer> {
    const parts: Buffer[] = [Buffer.from(this.pendingLine, 'utf8')];
    this.pendingLine = '';
    for (let chunk = await this.nextChunk(); chunk !== null; chunk = await this.nextChunk()) parts.push(chunk);
    return Buffer.concat(parts);
  }

  close(): void {
    this.req.destroy();
    this.response.destroy();
  }

  private push(update: () => unknown): void {
    update();
    this.wake?.();
  }

  private until(ready: () => boolean, timeoutMs: number): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        reject(new Error(`no data within ${timeoutMs}ms`));
      }, timeoutMs);
      this.wake = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}

/**
 * Writes `raw` bytes to host:port over a plain TCP socket and resolves with everything the server
 * sent (as latin1, byte for byte) once it closes the connection or `timeoutMs` (default 5 s) passes.
 * `closeAfterMs` half-closes our side that long after writing, telling the server no more requests follow.
 * Rejects only when the connection cannot be made.
 */
export function rawHttp(
  host: string,
  port: number,
  raw: string | Buffer,
  opts: { timeoutMs?: number; closeAfterMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const received: Buffer[] = [];
    let connected = false;
    const socket = net.connect({ host, port }, () => {
      connected = true;
      socket.write(raw);
      if (opts.closeAfterMs !== undefined) halfClose = setTimeout(() => socket.end(), opts.closeAfterMs);
    });
    let halfClose: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => socket.destroy(), opts.timeoutMs ?? 5000);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', (err) => {
      if (!connected) reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(halfClose);
      resolve(Buffer.concat(received).toString('latin1'));
    });
  });
}

/** Below Linux's ephemeral range (32768-60999 by default), so no other test's listen(0) is given it. */
const CLOSED_PORT_RANGE = { from: 20_000, to: 32_000 };

/**
 * A port on 127.0.0.1 with nothing listening on it (bound, then released). It is drawn from below
 * the ephemeral range: a port released by listen(0) could be handed to a server of a test running
 * in parallel, and a "closed" upstream would then answer.
 */
export async function closedPort(): Promise<number> {
  for (;;) {
    const port = CLOSED_PORT_RANGE.from + Math.floor(Math.random() * (CLOSED_PORT_RANGE.to - CLOSED_PORT_RANGE.from));
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}
