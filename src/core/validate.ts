/**
 * Argument checks shared by every module. Each throws a `TypeError` or `RangeError` that names the
 * argument, says what is allowed and shows what was given, so a wrong call explains itself.
 */

/** The longest delay `setTimeout` honours; beyond it Node fires after 1 ms instead. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Renders a rejected value for an error message without throwing on odd inputs. */
export function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

export function assertFunction(value: unknown, name: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${describe(value)}`);
}

/** A duration in milliseconds: a finite number >= 0 that a timer can wait, or `Infinity` where allowed. */
export function assertDuration(
  value: unknown,
  name: string,
  options?: {
    readonly allowInfinity?: boolean;
    /** Any finite length is fine: the caller arms it with `armTimer`, which re-arms past `MAX_TIMER_MS`. */
    readonly long?: boolean;
  },
): asserts value is number {
  // The common case first, without reading the options: checks run on every call of hot functions.
  if (typeof value === 'number' && value >= 0 && value <= MAX_TIMER_MS) return;
  if (options?.long === true && typeof value === 'number' && value >= 0 && Number.isFinite(value)) return;
  const allowInfinity = options?.allowInfinity ?? false;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new RangeError(`${name} must be a number of milliseconds >= 0, got ${describe(value)}`);
  }
  if (value === Infinity) {
    if (!allowInfinity) throw new RangeError(`${name} must be finite, got Infinity`);
    return;
  }
  if (value > MAX_TIMER_MS) {
    throw new RangeError(`${name} must be at most ${MAX_TIMER_MS} ms (about 24.8 days), got ${value}`);
  }
}

/** An integer >= `min` (and <= `max`), or `Infinity` where allowed. */
export function assertInteger(
  value: unknown,
  name: string,
  options?: { readonly min?: number; readonly max?: number; readonly allowInfinity?: boolean },
): asserts value is number {
  const min = options?.min ?? 0;
  const max = options?.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return;
  const allowInfinity = options?.allowInfinity ?? false;
  if (allowInfinity && value === Infinity) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new RangeError(`${name} must be an integer ${range}${allowInfinity ? ' or Infinity' : ''}, got ${describe(value)}`);
  }
}

export function assertSignal(value: unknown, name = 'signal'): asserts value is AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) {
    throw new TypeError(`${name} must be an AbortSignal or undefined, got ${describe(value)}`);
  }
}

/** A priority is any number but NaN (`Infinity` and `-Infinity` included); returns it. */
export function assertPriority(value: unknown, name = 'priority'): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  }
  return value;
}

export function assertOptions(value: unknown, name = 'options'): asserts value is object | undefined {
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw new TypeError(`${name} must be an object or undefined, got ${describe(value)}`);
  }
}

/**
 * Rejects option names nobody reads, so a misspelt or foreign option (`autoStart` on a TaskQueue
 * that calls it `paused`) fails loudly instead of being ignored.
 */
export function assertKnownOptions(options: object | undefined, known: readonly string[], owner: string): void {
  if (options === undefined) return;
  for (const key in options) {
    // A plain loop: `known.includes(key)` costs twice as much, and this runs on every call of
    // functions such as retry whose options are often built per call.
    let isKnown = false;
    for (let i = 0; i < known.length; i++) {
      if (known[i] === key) {
        isKnown = true;
        break;
      }
    }
    if (!isKnown) {
      throw new TypeError(`${owner} has no option ${JSON.stringify(key)}; its options are ${known.join(', ')}`);
    }
  }
}
