import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { BoardEvent } from 'skein/board';
import { TraceWriter } from './trace-writer.js';

const event = (n: number): BoardEvent => ({ kind: 'scheduled', at: n, runId: `r${n}`, agent: 'a', correlationId: 'c', inputIds: [] });

/** A stream that takes 2 ms per chunk and buffers at most 64 bytes before asking writers to wait. */
function slowStream() {
  const lines: string[] = [];
  let maxBuffered = 0;
  const stream = new Writable({
    highWaterMark: 64,
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      setTimeout(callback, 2);
    },
  });
  const track = () => (maxBuffered = Math.max(maxBuffered, stream.writableLength));
  return { stream, lines, track, maxBuffered: () => maxBuffered };
}

describe('TraceWriter', () => {
  it('waits for a slow stream to drain, so its buffer stays bounded, and keeps every event in order', async () => {
    const { stream, lines, track, maxBuffered } = slowStream();
    const trace = new TraceWriter(stream);
    const lineLength = `${JSON.stringify(event(10))}\n`.length;
    for (let n = 10; n < 60; n++) {
      await trace.write(event(n));
      track();
    }
    await trace.close();
    expect(lines.map((line) => (JSON.parse(line) as { at: number }).at)).toEqual(Array.from({ length: 50 }, (_, i) => i + 10));
    // Without waiting, all 50 lines would sit in the buffer at once.
    expect(maxBuffered()).toBeLessThanOrEqual(64 + lineLength);
  });

  it('does not wait on a stream that failed, and reports the failure on close', async () => {
    const stream = new Writable({
      highWaterMark: 1,
      write(_chunk, _encoding, callback) {
        callback(new Error('disk full'));
      },
    });
    const trace = new TraceWriter(stream);
    await trace.write(event(1));
    await trace.write(event(2));
    await expect(trace.close()).rejects.toThrow('disk full');
  });
});
