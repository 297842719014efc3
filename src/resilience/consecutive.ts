import { assertInteger } from '../core/validate.js';
import type { BreakerPolicy, BreakerTracker } from './breaker-policy.js';

/**
 * Opens the breaker after `failures` failures in a row; any success starts the count again. The
 * simplest policy, and the right one for a dependency that is either up or down.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, consecutive } from 'skein';
 * const breaker = new CircuitBreaker({ policy: consecutive(3), openMs: 1_000 });
 * const fail = () => breaker.execute(() => { throw new Error('down'); }).catch(() => {});
 * await fail(); await fail();
 * await breaker.execute(() => 'up'); // resets the run
 * await fail(); await fail();
 * console.log(breaker.state); // 'closed'
 * await fail();
 * console.log(breaker.state); // 'open'
 * ```
 */
export function consecutive(failures: number): BreakerPolicy {
  assertInteger(failures, 'failures', { min: 1 });
  return { create: () => new ConsecutiveTracker(failures) };
}

class ConsecutiveTracker implements BreakerTracker {
  readonly #threshold: number;
  #run = 0;

  constructor(threshold: number) {
    this.#threshold = threshold;
  }

  get calls(): number {
    return this.#run;
  }

  get failures(): number {
    return this.#run;
  }

  success(): void {
    this.#run = 0;
  }

  failure(): boolean {
    return ++this.#run >= this.#threshold;
  }

  reset(): void {
    this.#run = 0;
  }
}
