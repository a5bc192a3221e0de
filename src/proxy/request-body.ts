import type { Readable } from 'node:stream';

/** A body longer than the cap: reading stops there, the rest stays unread. */
export class RequestBodyTooLarge extends Error {}

/**
 * Reads a whole message body into memory, up to `limit` bytes. Rejects with RequestBodyTooLarge
 * past the cap (the stream is paused, not drained), and with an Error when the stream ends early.
 */
export function readRequestBody(stream: Readable & { complete?: boolean }, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        stream.pause();
        reject(new RequestBodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks, size));
    };
    const onClose = () => {
      done();
      reject(new Error('the body ended before it was complete'));
    };
    const done = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onClose);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onClose);
  });
}
