/**
 * Renderers put the progress view on a stream. The CLI calls `render` on every tick and `close`
 * once at the end; each renderer decides how much of that reaches the stream. The terminal one is in
 * `tty-renderer.ts`, apart, because log-update touches `process.stdout` and `process.stderr` when it
 * is imported, which a program that never draws in a terminal should not pay for.
 */
import type { ProgressSnapshot } from './progress-model.js';
import { progressLine, type ViewHeader } from './progress-view.js';
import { resumedText } from './summary.js';

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
 * Plain lines for pipes and CI logs: at most one per `minIntervalMs` (default one second), so that a
 * long run leaves a readable log rather than thousands of lines.
 */
export class LineRenderer implements ProgressRenderer {
  readonly #stream: OutputStream;
  readonly #minIntervalMs: number;
  #lastAt = -Infinity;
  #resumedShown = false;

  constructor(stream: OutputStream, options?: { minIntervalMs?: number }) {
    this.#stream = stream;
    this.#minIntervalMs = options?.minIntervalMs ?? LINE_INTERVAL_MS;
  }

  render(snapshot: ProgressSnapshot, header: ViewHeader): void {
    // What a durable store held is said once, on a line of its own, as soon as it is known.
    if (header.resumed !== undefined && !this.#resumedShown) {
      this.#resumedShown = true;
      this.#stream.write(`${resumedText(header.resumed)}\n`);
    }
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
