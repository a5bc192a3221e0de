import http, { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import https from 'node:https';
import { AddressInfo, Socket } from 'node:net';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** A certificate and its key (PEM): the server then speaks HTTPS. */
export interface TlsIdentity {
  cert: string;
  key: string;
}

/**
 * An HTTP server on 127.0.0.1 that tracks its sockets so that `close()` frees everything at once.
 * Client aborts never surface as unhandled errors; a handler that throws answers 500
 * (or resets the connection when the response has already started).
 */
export class LoopbackServer {
  readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private closing?: Promise<void>;
  private boundPort = 0;

  /** TLS handshakes completed (HTTPS only): one per connection, however many requests it carries. */
  tlsSessions = 0;

  private constructor(
    handler: RequestHandler,
    private readonly tls?: TlsIdentity,
  ) {
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      req.on('error', ignore);
      res.on('error', ignore);
      Promise.resolve()
        .then(() => handler(req, res))
        .catch((err: unknown) => failResponse(res, err));
    };
    this.server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, listener) : http.createServer(listener);
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    if (tls) {
      // A client that refuses the certificate ends the handshake: not an error of the server's.
      this.server.on('tlsClientError', ignore);
      this.server.on('secureConnection', () => this.tlsSessions++);
    }
  }

  static async start(handler: RequestHandler, port = 0, tls?: TlsIdentity): Promise<LoopbackServer> {
    const instance = new LoopbackServer(handler, tls);
    await new Promise<void>((resolve, reject) => {
      instance.server.once('error', reject);
      instance.server.listen({ port, host: '127.0.0.1' }, () => {
        instance.server.off('error', reject);
        resolve();
      });
    });
    instance.boundPort = (instance.server.address() as AddressInfo).port;
    return instance;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Base URL, without a trailing slash. */
  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Number of TCP connections currently open to this server. */
  openSockets(): number {
    return this.sockets.size;
  }

  /** Stops listening and destroys every open connection. Idempotent; always resolves. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
    return this.closing;
  }
}

function ignore(): void {}

function failResponse(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendText(res, 500, `test server error: ${err instanceof Error ? err.message : String(err)}`);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  send(res, status, JSON.stringify(body), { 'Content-Type': 'application/json', ...headers });
}

export function sendText(res: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  send(res, status, text, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
}

function send(res: ServerResponse, status: number, body: string, headers: OutgoingHttpHeaders): void {
  if (res.destroyed) return;
  res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Reads a request body to the end. Resolves with what arrived even if the client aborts. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * Waits `ms` milliseconds unless the response's connection closes first.
 * Resolves true when the wait completed, false when the client went away.
 */
export function holdResponse(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(true);
    }, ms);
    res.once('close', onClose);
  });
}

/** Splits a raw request target into its path and parsed query, without normalising the path. */
export function splitTarget(rawUrl: string | undefined): { pathname: string; query: URLSearchParams } {
  const url = rawUrl ?? '/';
  const q = url.indexOf('?');
  return q < 0
    ? { pathname: url, query: new URLSearchParams() }
    : { pathname: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}
