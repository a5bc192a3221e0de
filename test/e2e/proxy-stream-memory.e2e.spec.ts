import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';
import { forceGc, MiB } from '../support/memory';
import { Harness } from './harness';

/**
 * What a long body costs the gateway in memory outside V8's heap. node:http reads every socket
 * read into a fresh buffer, and copies every piece of a request body into one; the gateway only
 * passes them on, so V8's own collector frees them, in rounds bounded by its external-memory
 * limit: the peak stays far below the body's size, however long it is. The caller here is a raw socket that reads into one buffer and writes
 * one block over and over; OpenFaaS is a raw server that writes one block over and over, so the
 * only per-read buffers in this process are the gateway's own and, for an upload, OpenFaaS's
 * reads of what the gateway sends it.
 */

const TOTAL = 512 * MiB;
const HEAD_END = '\r\n\r\n';

/** The peak of process.memoryUsage().arrayBuffers above where it was at the start, sampled on demand. */
class ExternalPeak {
  peak = 0;
  samples = 0;
  private readonly before: number;

  constructor(readonly budget: number) {
    forceGc();
    this.before = process.memoryUsage().arrayBuffers;
  }

  sample(): void {
    this.samples++;
    this.peak = Math.max(this.peak, process.memoryUsage().arrayBuffers - this.before);
  }

  describe(): string {
    return `external memory rose ${(this.peak / MiB).toFixed(1)} MiB over ${this.samples} samples (budget ${this.budget / MiB})`;
  }
}

/** Writes `block` over and over until `total` bytes are out, as fast as the socket takes them; `each` runs per block. */
function writeRepeated(socket: Socket, block: Buffer, total: number, each: () => void): void {
  let written = 0;
  const pump = (): void => {
    while (written < total && !socket.destroyed) {
      const chunk = total - written >= block.length ? block : block.subarray(0, total - written);
      written += chunk.length;
      each();
      if (!socket.write(chunk)) return void socket.once('drain', pump);
    }
  };
  pump();
}

/**
 * A stand-in for OpenFaaS on raw sockets, one request at a time per (kept-alive) connection:
 * `GET /function/down` answers TOTAL bytes written from one block; a request with a body is
 * answered with the number of body bytes that arrived.
 */
function rawOpenFaas(block: Buffer, peak: () => ExternalPeak): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let head = '';
    let bodyLeft = -1;
    let bodyBytes = 0;
    let reads = 0;
    socket.on('data', (bytes: Buffer) => {
      if (++reads % 16 === 0) peak().sample();
      if (bodyLeft < 0) {
        head += bytes.toString('latin1');
        const end = head.indexOf(HEAD_END);
        if (end < 0) return;
        const length = /\r\ncontent-length: *(\d+)/i.exec(head.slice(0, end));
        bodyBytes = head.length - end - HEAD_END.length;
        bodyLeft = (length ? Number(length[1]) : 0) - bodyBytes;
      } else {
        bodyBytes += bytes.length;
        bodyLeft -= bytes.length;
      }
      if (bodyLeft > 0) return;
      if (head.startsWith('GET /function/down ')) {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${TOTAL}\r\n\r\n`);
        writeRepeated(socket, block, TOTAL, () => undefined);
      } else {
        const text = String(bodyBytes);
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
      }
      head = '';
      bodyLeft = -1;
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

interface RawAnswer {
  statusLine: string;
  body: string;
  bodyBytes: number;
}

/**
 * One request over a raw socket that reads into a single reused buffer (nothing allocated per
 * read); `upload` bytes of body are written from one block. Samples `peak` every 16 reads or blocks.
 */
function rawRequest(gatewayPort: number, head: string, peak: ExternalPeak, upload?: { block: Buffer; total: number }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let text = '';
    let bodyBytes = 0;
    let reads = 0;
    let blocks = 0;
    const socket = connect({
      port: gatewayPort,
      host: '127.0.0.1',
      onread: {
        buffer: Buffer.alloc(64 * 1024),
        callback: (n: number, buf: Uint8Array): boolean => {
          if (++reads % 16 === 0) peak.sample();
          if (text.includes(HEAD_END)) {
            bodyBytes += n;
          } else {
            text += Buffer.from(buf.buffer, buf.byteOffset, n).toString('latin1');
            const end = text.indexOf(HEAD_END);
            if (end >= 0) bodyBytes = text.length - end - HEAD_END.length;
          }
          return true;
        },
      },
    });
    socket.setTimeout(30_000, () => socket.destroy(new Error(`stalled: ${bodyBytes} body bytes in`)));
    socket.on('error', reject);
    socket.on('close', () => {
      const end = text.indexOf(HEAD_END);
      resolve({ statusLine: text.slice(0, text.indexOf('\r\n')), body: end >= 0 ? text.slice(end + HEAD_END.length) : '', bodyBytes });
    });
    socket.write(`${head}Connection: close\r\n\r\n`);
    if (upload) writeRepeated(socket, upload.block, upload.total, () => ++blocks % 16 === 0 && peak.sample());
  });
}

describe('proxy: the memory a 512 MiB body costs', () => {
  let h: Harness;
  let openfaas: Server;
  let port: number;
  let authorization: string;
  let peak: ExternalPeak;
  const block = randomBytes(MiB);

  before(async () => {
    openfaas = await rawOpenFaas(block, () => peak);
    const upstream = `http://127.0.0.1:${(openfaas.address() as AddressInfo).port}`;
    h = await Harness.start({ env: { allow_invoke: 'true', gateway_url: upstream } });
    port = h.gateway.port;
    authorization = `Bearer ${await h.token()}`;
  });
  after(async () => {
    await h?.close();
    openfaas?.close();
  });

  it('a download: the read buffers the gateway relays are freed by the collector, not held for the whole body', async () => {
    peak = new ExternalPeak(TOTAL / 2);
    const answer = await rawRequest(port, `GET /function/down HTTP/1.1\r\nHost: gateway\r\nAuthorization: ${authorization}\r\n`, peak);
    assert.equal(answer.statusLine, 'HTTP/1.1 200 OK');
    assert.equal(answer.bodyBytes, TOTAL);
    assert.ok(peak.samples > 200, `only ${peak.samples} samples`);
    assert.ok(peak.peak < peak.budget, peak.describe());
  });

  it('an upload: the pieces of the body node:http copies are freed by the collector, not held for the whole body', async () => {
    // OpenFaaS's reads of the body are in this process too.
    peak = new ExternalPeak(TOTAL / 2);
    const head = `POST /function/up HTTP/1.1\r\nHost: gateway\r\nAuthorization: ${authorization}\r\nContent-Length: ${TOTAL}\r\n`;
    const answer = await rawRequest(port, head, peak, { block, total: TOTAL });
    assert.equal(answer.statusLine, 'HTTP/1.1 200 OK');
    assert.equal(answer.body, String(TOTAL), 'OpenFaaS did not receive the whole body');
    assert.ok(peak.samples > 200, `only ${peak.samples} samples`);
    assert.ok(peak.peak < peak.budget, peak.describe());
  });
});
