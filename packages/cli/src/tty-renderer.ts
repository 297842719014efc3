/** The progress view in a terminal: one frame, redrawn in place. */
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

  constructor(stream: OutputStream, colors: Palette) {
    this.#log = createLogUpdate(sized(stream) as NodeJS.WritableStream);
    this.#colors = colors;
  }

  render(snapshot: ProgressSnapshot, header: ViewHeader): void {
    this.#log(progressFrame(snapshot, header, this.#colors));
  }

  close(): void {
    this.#log.clear();
    this.#log.done();
  }
}

/**
 * The stream with a usable size: a terminal that reports 0 rows or columns (a pseudo-terminal with
 * no size set, as `script` or some CI runners make) would make log-update draw nothing at all.
 */
function sized(stream: OutputStream): OutputStream {
  return {
    isTTY: stream.isTTY,
    get columns() {
      return stream.columns || 120;
    },
    get rows() {
      return stream.rows || 40;
    },
    write: (text: string) => stream.write(text),
  };
}
