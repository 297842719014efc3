/**
 * Text formatting shared by the progress views and the summary: durations, counts and aligned
 * tables. Colour is passed in (a picocolors instance or plain identity), never decided here.
 */
import picocolors from 'picocolors';

/** The colour functions the views use. */
export type Palette = Pick<typeof picocolors, 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan'>;

/** Colours when `enabled`, identity functions otherwise. */
export function palette(enabled: boolean): Palette {
  return picocolors.createColors(enabled);
}

/**
 * Whether to colour a stream: a TTY, unless NO_COLOR is set (https://no-color.org), or FORCE_COLOR
 * asks for it anyway.
 */
export function colorFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

/** `850 ms`, `3.4 s`, `2m 05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1_000);
  return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
}

/** A run time for the summary: `-` when there is none, `<1 ms` below the clock's resolution. */
export function formatRunTime(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1) return '<1 ms';
  return formatDuration(ms);
}

/** `12,345`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** The visible width of a string: ANSI colour codes take no room. */
export function visibleWidth(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/**
 * Lays out rows as aligned columns: the first column left-aligned, the others right-aligned, two
 * spaces between. Cells may contain colour codes.
 */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleWidth(cell))));
  return rows.map((row) =>
    row
      .map((cell, i) => {
        const pad = ' '.repeat((widths[i] ?? 0) - visibleWidth(cell));
        return i === 0 ? cell + pad : pad + cell;
      })
      .join('  ')
      .trimEnd(),
  );
}
