/**
 * `--trace <file>`: every board event as one JSON line, in the order the board emitted them, so a
 * run can be inspected or replayed through the progress model afterwards. Writes respect the stream's
 * backpressure: when the stream's buffer is full, `write` waits for it to drain, so a slow disk slows
 * the event reader (the board's bounded event stream then reports what it had to drop) instead of
 * the trace growing without bound in memory.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import type { BoardEvent } from 'skein/board';
import { CliError } from './cli-error.js';

/**
 * Writes board events as JSON lines.
 *
 * @example
 * ```ts
 * const trace = await TraceWriter.open('.tmp/events.jsonl');
 * for await (const event of board.events()) await trace.write(event);
 * await trace.close();
 * ```
 */
export class TraceWriter {
  readonly #stream: Writable;
  #error: Error | undefined;

  /** Writes to `stream` (a file, a socket, a test's slow stream); {@link TraceWriter.open} opens a file. */
  constructor(stream: Writable) {
    this.#stream = stream;
    stream.on('error', (error) => (this.#error ??= error));
  }

  /** Opens (creates or truncates) `path`, creating its directory; a path that cannot be written is a {@link CliError}. */
  static async open(path: string): Promise<TraceWriter> {
    await mkdir(dirname(path), { recursive: true }).catch(() => undefined);
    const stream = createWriteStream(path, { flags: 'w' });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (error) => reject(new CliError(`cannot write the trace file ${path}: ${error.message}`)));
    });
    return new TraceWriter(stream);
  }

  /** Writes one event; resolves at once, or once the stream has drained when its buffer is full. */
  async write(event: BoardEvent): Promise<void> {
    if (this.#error !== undefined || this.#stream.destroyed) return;
    if (this.#stream.write(`${JSON.stringify(event)}\n`)) return;
    // A failed stream never drains: its error (kept for close) ends the wait too.
    await once(this.#stream, 'drain').catch(() => undefined);
  }

  /** Flushes and closes the stream; rejects if any write failed. */
  async close(): Promise<void> {
    if (!this.#stream.destroyed) await new Promise<void>((resolve) => this.#stream.end(resolve));
    if (this.#error !== undefined) throw this.#error;
  }
}
