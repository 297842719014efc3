/**
 * The shape every benchmark file in bench/ exports: suites of cases measured in one run, so that
 * skein, its peers and the floor (the least any implementation can do) share the same machine state.
 */

/** Who a case measures. Ratios are computed from the `skein` case to every other case of its suite. */
export type CaseRole = 'skein' | 'peer' | 'floor';

export interface BenchCase {
  /** Shown in the report: `skein map`, `p-map`, `Promise.all (floor)`. */
  readonly name: string;
  readonly role: CaseRole;
  /** One iteration. May be async; it is awaited. */
  readonly fn: () => unknown;
}

/** A suite of cases timed by tinybench; the report gives each case's time per iteration and ratios. */
export interface TimedSuite {
  readonly kind: 'timed';
  readonly name: string;
  /** What one iteration does, in words. */
  readonly description: string;
  readonly cases: readonly BenchCase[];
  /** Time budget per case in ms (default 1000). */
  readonly timeMs?: number;
  /** Minimum iterations per case (default 10); a case runs until both budgets are spent. */
  readonly iterations?: number;
}

/**
 * A suite that measures something other than time per call (messages per second, peak memory):
 * it runs itself and returns named figures, `skein` ones and peer ones, with their unit.
 */
export interface CustomSuite {
  readonly kind: 'custom';
  readonly name: string;
  readonly description: string;
  readonly run: () => Promise<readonly Figure[]>;
}

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
}

export type Suite = TimedSuite | CustomSuite;

/** Declares a timed suite (an identity function that gives the literal its type). */
export function timedSuite(suite: Omit<TimedSuite, 'kind'>): TimedSuite {
  return { kind: 'timed', ...suite };
}

/** Declares a custom suite. */
export function customSuite(suite: Omit<CustomSuite, 'kind'>): CustomSuite {
  return { kind: 'custom', ...suite };
}
