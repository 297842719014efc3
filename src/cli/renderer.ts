/**
 * Renderers put the progress view on a stream. The CLI calls `render` on every tick and `close`
 * once at the end; each renderer decides how much of that reaches the stream.
 */
import { createLogUpdate } from 'log-update';
import type { Palette } from './format.js';
import type { ProgressSnapshot } from './progress-model.js';
import { progressFrame, progressLine, type ViewHeader } from './progress-view.js';

/** Where the view goes: `process.stderr` or a test's stand-in. */
export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
}

export interface ProgressRenderer {
  render(snapshot: ProgressSnapshot, header: ViewHeader): void;
  /** Removes what must not stay on screen (a live frame) before the summary is printed. */
  close(): void;
}

/** How often the CLI ticks each renderer. The line renderer is ticked more often than it prints so that a late timer does not skip a second. */
export const TTY_TICK_MS = 100;
export const LINE_TICK_MS = 250;
/** The plain renderer prints at most one line per this interval. */
export const LINE_INTERVAL_MS = 1_000;

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

/**
 * Plain lines for pipes and CI logs: at most one per `minIntervalMs` (default one second), so that a
 * long run leaves a readable log rather than thousands of lines.
 */
export class LineRenderer implements ProgressRenderer {
  readonly #stream: OutputStream;
  readonly #minIntervalMs: number;
  #lastAt = -Infinity;

  constructor(stream: OutputStream, options?: { minIntervalMs?: number }) {
    this.#stream = stream;
    this.#minIntervalMs = options?.minIntervalMs ?? LINE_INTERVAL_MS;
  }

  render(snapshot: ProgressSnapshot, header: ViewHeader): void {
    if (snapshot.elapsedMs - this.#lastAt < this.#minIntervalMs) return;
    this.#lastAt = snapshot.elapsedMs;
    this.#stream.write(`${progressLine(snapshot, header)}\n`);
  }

  close(): void {}
}

/** Renders nothing: `--quiet`. */
export class SilentRenderer implements ProgressRenderer {
  render(): void {}
  close(): void {}
}
