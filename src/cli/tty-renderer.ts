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
    this.#log = createLogUpdate(stream as NodeJS.WritableStream, { defaultWidth: 120 });
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
