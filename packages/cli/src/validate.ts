/**
 * Argument checks for the CLI's public functions, in the same form as skein's own (name the argument,
 * say what is allowed, show what was given). The CLI is a package of its own and uses only skein's
 * public API, so it keeps this small copy of the checks it needs instead of reaching into skein.
 */

/** The longest delay `setTimeout` honours; beyond it Node fires after 1 ms instead. */
const MAX_TIMER_MS = 2_147_483_647;

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

/** A duration in milliseconds: a finite number >= 0 that a timer can wait. */
export function assertDuration(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new RangeError(`${name} must be a number of milliseconds >= 0, got ${describe(value)}`);
  }
  if (value === Infinity) throw new RangeError(`${name} must be finite, got Infinity`);
  if (value > MAX_TIMER_MS) {
    throw new RangeError(`${name} must be at most ${MAX_TIMER_MS} ms (about 24.8 days), got ${value}`);
  }
}

export function assertSignal(value: unknown, name = 'signal'): asserts value is AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) {
    throw new TypeError(`${name} must be an AbortSignal or undefined, got ${describe(value)}`);
  }
}

export function assertOptions(value: unknown, name = 'options'): asserts value is object | undefined {
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw new TypeError(`${name} must be an object or undefined, got ${describe(value)}`);
  }
}
