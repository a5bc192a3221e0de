import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { ProgressIndicator } from './progress-indicator';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: () => string } {
  const chunks: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  Object.assign(stream, { isTTY, columns: 80, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream: stream as unknown as NodeJS.WriteStream, written: () => chunks.join('') };
}

describe(ProgressIndicator.name, () => {
  it('draws on a terminal', async () => {
    const { stream, written } = fakeStream(true);
    const progress = ProgressIndicator.for(stream, false);
    await progress.start('status: 0/3 clusters');
    progress.update('status: 3/3 clusters');
    progress.stop();
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(written(), /status: [03]\/3 clusters/);
  });

  it('stays silent when the stream is not a terminal, or the output is JSON', async () => {
    for (const [isTTY, json] of [[false, false], [true, true]] as const) {
      const { stream, written } = fakeStream(isTTY);
      const progress = ProgressIndicator.for(stream, json);
      await progress.start('status: 0/3 clusters');
      progress.stop();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(written(), '', `isTTY ${isTTY}, json ${json}`);
    }
  });
});
