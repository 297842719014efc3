/**
 * The nearest-rank percentile of sorted values: the smallest value with at least `p` percent of the
 * values at or below it. It is always one of the values (no interpolation), which is what a reader
 * of "p99 = 41 ms" expects: some run really took 41 ms.
 *
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 50); // 2
 * percentile([], 99);           // undefined
 * ```
 */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
