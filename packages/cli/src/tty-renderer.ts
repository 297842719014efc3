/** The progress view in a terminal: one frame, redrawn in place. */
import cliTruncate from 'cli-truncate';
import { createLogUpdate } from 'log-update';
import type { Palette } from './format.js';
import type { ProgressSnapshot } from './progress-model.js';
import { progressFrame, type ViewHeader } from './progress-view.js';
import type { OutputStream, ProgressRenderer } from './renderer.js';

/**
 * Redraws one frame in place with log-update (it erases the previous frame's lines, hides the cursor
 * and restores it on exit). `close` clears the frame so that the summary replaces it.
 */
export class TtyRenderer implements ProgressRenderer {
  readonly #log: ReturnType<typeof createLogUpdate>;
  readonly #colors: Palette;
  readonly #stream: OutputStream;

  constructor(stream: OutputStream, colors: Palette) {
    this.#stream = sized(stream);
    this.#log = createLogUpdate(this.#stream as NodeJS.WritableStream);
    this.#colors = colors;
  }

  render(snapshot: ProgressSnapshot, header: ViewHeader): void {
    this.#log(fitWidth(progressFrame(snapshot, header, this.#colors), this.#stream.columns ?? DEFAULT_COLUMNS));
  }

  close(): void {
    this.#log.clear();
    this.#log.done();
  }
}

const DEFAULT_COLUMNS = 120;
const DEFAULT_ROWS = 40;

/**
 * Each line cut to `columns` (an ellipsis marks the cut; colour codes are kept and closed). A line
 * wider than the terminal would wrap onto the next row, and log-update, which erases one row per
 * line, would then leave the wrapped part of every old frame on screen.
 *
 * @example
 * ```ts
 * fitWidth('skein run markdown-report   1.2 s   published 42', 20); // 'skein run markdown-…'
 * ```
 */
export function fitWidth(frame: string, columns: number): string {
  const width = Math.max(1, Math.floor(columns));
  return frame
    .split('\n')
    .map((line) => cliTruncate(line, width, { position: 'end' }))
    .join('\n');
}

/**
 * The stream with a usable size: a terminal that reports 0 rows or columns (a pseudo-terminal with
 * no size set, as `script` or some CI runners make) would make log-update draw nothing at all.
 */
function sized(stream: OutputStream): OutputStream {
  return {
    isTTY: stream.isTTY,
    get columns() {
      return stream.columns || DEFAULT_COLUMNS;
    },
    get rows() {
      return stream.rows || DEFAULT_ROWS;
    },
    write: (text: string) => stream.write(text),
  };
}
