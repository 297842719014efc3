/**
 * `--trace <file>`: every board event as one JSON line, in the order the board emitted them, so a
 * run can be inspected or replayed through the progress model afterwards.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BoardEvent } from 'skein/board';
import { CliError } from './cli-error.js';

export class TraceWriter {
  readonly #stream: WriteStream;
  #error: Error | undefined;

  private constructor(stream: WriteStream) {
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

  write(event: BoardEvent): void {
    if (this.#error === undefined) this.#stream.write(`${JSON.stringify(event)}\n`);
  }

  /** Flushes and closes the file; rejects if any write failed. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#stream.end(resolve));
    if (this.#error !== undefined) throw this.#error;
  }
}
