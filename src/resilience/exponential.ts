/**
 * Exponential backoff with jitter. The formulas are those of Marc Brooker, "Exponential Backoff And
 * Jitter", AWS Architecture Blog, 2015 (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/),
 * with `base` = `initialMs`, `cap` = `maxMs` and the blog's fixed growth of 2 (3 for decorrelated)
 * generalised to `factor`. For the n-th retry (n = 0, 1, 2, ...) and `random()` uniform in [0, 1):
 *
 * - `'none'`:  `ceiling(n) = min(maxMs, initialMs * factor ** n)`. Deterministic: clients that failed
 *   together retry together, which is why the blog adds jitter.
 * - `'full'`:  `random() * ceiling(n)`. The blog's recommendation: least total work and fastest
 *   completion under contention, at the price of sometimes retrying almost at once.
 * - `'equal'`: `ceiling(n) / 2 + random() * ceiling(n) / 2`. Keeps half of the exponential wait, so a
 *   retry never comes sooner than half the ceiling; slightly more work than full jitter.
 * - `'decorrelated'`: `min(maxMs, initialMs + random() * (previous * factor - initialMs))`, with
 *   `previous` starting at `initialMs` and `factor` defaulting to 3: each delay is drawn from a range
 *   that grows with the last one rather than with n, as in the blog.
 *
 * Delays are rounded to whole milliseconds. The random source is injectable so tests are exact.
 */
import { assertDuration, assertFunction, assertOptions, describe } from '../core/validate.js';
import type { Backoff } from './backoff.js';

/**
 * How {@link exponential} randomises its delays; see the module comment for the formulas.
 *
 * @example
 * ```ts
 * import { exponential, type Jitter } from 'skein';
 * const jitter: Jitter = 'decorrelated';
 * const backoff = exponential({ initialMs: 50, maxMs: 5_000, jitter });
 * ```
 */
export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated';

const JITTERS: readonly Jitter[] = ['none', 'full', 'equal', 'decorrelated'];

/**
 * Options for {@link exponential}.
 *
 * @example
 * ```ts
 * import { exponential, firstDelays, type ExponentialOptions } from 'skein';
 * const options: ExponentialOptions = { initialMs: 10, factor: 3, maxMs: 100, jitter: 'none' };
 * console.log(firstDelays(exponential(options), 4)); // [10, 30, 90, 100]
 * ```
 */
export interface ExponentialOptions {
  /** The first ceiling (and the decorrelated floor), in ms. Default 100. */
  readonly initialMs?: number;
  /** Growth per retry, >= 1. Default 2, or 3 with `jitter: 'decorrelated'` (the blog's values). */
  readonly factor?: number;
  /** No delay exceeds this, in ms. Default 30 000. */
  readonly maxMs?: number;
  /** Default `'full'`, the blog's recommendation. */
  readonly jitter?: Jitter;
  /** A source of numbers uniform in [0, 1). Default: `Math.random`, read each time iteration starts. */
  readonly random?: () => number;
}

/**
 * An endless exponential backoff, with the jitter of your choice. Pair it with `maxAttempts` or
 * `maxElapsedMs` to stop.
 *
 * @example
 * ```ts
 * import { exponential, firstDelays } from 'skein';
 * const plain = exponential({ initialMs: 100, factor: 2, maxMs: 1_000, jitter: 'none' });
 * console.log(firstDelays(plain, 6)); // [100, 200, 400, 800, 1000, 1000]
 * const halfway = exponential({ initialMs: 100, jitter: 'full', random: () => 0.5 });
 * console.log(firstDelays(halfway, 3)); // [50, 100, 200]
 * ```
 */
export function exponential(options?: ExponentialOptions): Backoff {
  assertOptions(options);
  const jitter = options?.jitter ?? 'full';
  if (jitter !== 'full' && jitter !== 'none' && jitter !== 'equal' && jitter !== 'decorrelated') {
    throw new RangeError(`jitter must be one of ${JITTERS.map((j) => `'${j}'`).join(', ')}, got ${describe(jitter)}`);
  }
  const initialMs = options?.initialMs ?? 100;
  assertDuration(initialMs, 'initialMs');
  const maxMs = options?.maxMs ?? Math.max(30_000, initialMs);
  assertDuration(maxMs, 'maxMs');
  if (maxMs < initialMs) throw new RangeError(`maxMs must be >= initialMs (${initialMs}), got ${maxMs}`);
  const factor = options?.factor ?? (jitter === 'decorrelated' ? 3 : 2);
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) {
    throw new RangeError(`factor must be a finite number >= 1, got ${describe(factor)}`);
  }
  const random = options?.random;
  if (random !== undefined) assertFunction(random, 'random');
  return new Exponential(initialMs, maxMs, factor, jitter, random);
}

/**
 * The backoff {@link exponential} returns. A class rather than an object literal with a computed
 * `[Symbol.iterator]` key: the literal is slow to build, and callers commonly build a backoff per call.
 */
class Exponential implements Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #jitter: Jitter;
  readonly #random: (() => number) | undefined;

  constructor(initialMs: number, maxMs: number, factor: number, jitter: Jitter, random: (() => number) | undefined) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#factor = factor;
    this.#jitter = jitter;
    this.#random = random;
  }

  *[Symbol.iterator](): Iterator<number> {
    const initialMs = this.#initialMs;
    const maxMs = this.#maxMs;
    const factor = this.#factor;
    const jitter = this.#jitter;
    const draw = this.#random ?? Math.random;
    if (jitter === 'decorrelated') {
      let previous = initialMs;
      while (true) {
        previous = Math.min(maxMs, initialMs + draw() * (previous * factor - initialMs));
        yield Math.round(previous);
      }
    }
    let ceiling = initialMs;
    while (true) {
      if (jitter === 'none') yield Math.round(ceiling);
      else if (jitter === 'full') yield Math.round(draw() * ceiling);
      else yield Math.round(ceiling / 2 + (draw() * ceiling) / 2);
      ceiling = Math.min(maxMs, ceiling * factor);
    }
  }
}
