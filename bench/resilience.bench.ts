/**
 * The success-path cost of the resilience layer against its peers and against calling the function
 * bare (the floor: no wrapper can do less). One iteration makes 1,000 sequential awaited calls, so
 * the harness's own per-iteration cost does not blur a per-call overhead of tens of nanoseconds.
 */
import {
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker as cockatielBreaker,
  handleAll,
  retry as cockatielRetry,
  wrap as cockatielWrap,
} from 'cockatiel';
import Opossum from 'opossum';
import pRetry from 'p-retry';
import { CircuitBreaker, consecutive, exponential, retry, retryPolicy, wrap } from 'skein';
import { timedSuite } from './harness.js';

const CALLS = 1_000;
// An async function that succeeds at once: the call whose wrapping cost is measured.
// eslint-disable-next-line @typescript-eslint/require-await
const work = async (): Promise<number> => 1;

/** Awaits `call()` CALLS times in a row: the shape of a client making one request after another. */
const sequential = (call: () => Promise<unknown>) => async (): Promise<void> => {
  for (let i = 0; i < CALLS; i++) await call();
};

// What any wrapper that must see the outcome pays at least: one `then` (a promise and a microtask).
const rethrow = (error: unknown): never => {
  throw error;
};
const oneThen = (): Promise<number> => work().then(undefined, rethrow);

const backoff = exponential({ initialMs: 100, maxMs: 10_000 });
const retryOptions = { maxAttempts: 3, backoff };
const skeinRetryPolicy = retryPolicy(retryOptions);
const cockatielRetryPolicy = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() });

const skeinBreaker = new CircuitBreaker({ policy: consecutive(5), openMs: 10_000 });
const cockatielCircuit = cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) });
// opossum's defaults include a 10 s timeout (one timer per call); `timeout: false` is its fastest
// setting, and the fair one against skein's breaker, which has no timeout of its own.
const opossum = new Opossum(work, { timeout: false, resetTimeout: 10_000 });
const opossumDefaults = new Opossum(work);

const skeinComposed = wrap(retryPolicy(retryOptions), new CircuitBreaker({ policy: consecutive(5), openMs: 10_000 }));
const cockatielComposed = cockatielWrap(
  cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
  cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
);

export default [
  timedSuite({
    name: 'retry: success path, 1,000 sequential calls',
    timeMs: 2_000,
    description: 'Await an async function that succeeds at once through a retry of 3 attempts with exponential backoff.',
    cases: [
      { name: 'skein retry(task, options)', role: 'skein', fn: sequential(() => retry(work, retryOptions)) },
      { name: 'skein retryPolicy.execute', role: 'peer', fn: sequential(() => skeinRetryPolicy.execute(work)) },
      { name: 'cockatiel retry policy', role: 'peer', fn: sequential(() => cockatielRetryPolicy.execute(work)) },
      { name: 'p-retry (options object)', role: 'peer', fn: sequential(() => pRetry(work, { retries: 2 })) },
      { name: 'one then() (least a wrapper can do)', role: 'peer', fn: sequential(oneThen) },
      { name: 'bare call (floor)', role: 'floor', fn: sequential(work) },
    ],
  }),
  timedSuite({
    name: 'retry: success path, options and backoff built per call, 1,000 sequential calls',
    timeMs: 2_000,
    description: 'As above, but each call builds its options object and its backoff, as most callers write it.',
    cases: [
      {
        name: 'skein retry(task, { backoff: exponential() })',
        role: 'skein',
        fn: sequential(() => retry(work, { maxAttempts: 3, backoff: exponential({ initialMs: 100, maxMs: 10_000 }) })),
      },
      { name: 'p-retry (options object)', role: 'peer', fn: sequential(() => pRetry(work, { retries: 2 })) },
      { name: 'one then() (least a wrapper can do)', role: 'peer', fn: sequential(oneThen) },
      { name: 'bare call (floor)', role: 'floor', fn: sequential(work) },
    ],
  }),
  timedSuite({
    name: 'CircuitBreaker (closed): success path, 1,000 sequential calls',
    timeMs: 2_000,
    description: 'Await an async function that succeeds at once through a closed breaker (5 consecutive failures open it).',
    cases: [
      { name: 'skein CircuitBreaker', role: 'skein', fn: sequential(() => skeinBreaker.execute(work)) },
      { name: 'cockatiel circuitBreaker', role: 'peer', fn: sequential(() => cockatielCircuit.execute(work)) },
      { name: 'opossum (timeout: false)', role: 'peer', fn: sequential(() => opossum.fire()) },
      { name: 'opossum (defaults: 10 s timeout)', role: 'peer', fn: sequential(() => opossumDefaults.fire()) },
      { name: 'one then() (least a wrapper can do)', role: 'peer', fn: sequential(oneThen) },
      { name: 'bare call (floor)', role: 'floor', fn: sequential(work) },
    ],
  }),
  timedSuite({
    name: 'wrap(retry, breaker): success path, 1,000 sequential calls',
    timeMs: 2_000,
    description: 'Await an async function that succeeds at once through a retry policy wrapping a closed breaker.',
    cases: [
      { name: 'skein wrap(retryPolicy, CircuitBreaker)', role: 'skein', fn: sequential(() => skeinComposed.execute(work)) },
      { name: 'cockatiel wrap(retry, circuitBreaker)', role: 'peer', fn: sequential(() => cockatielComposed.execute(work)) },
      { name: 'one then() (least a wrapper can do)', role: 'peer', fn: sequential(oneThen) },
      { name: 'bare call (floor)', role: 'floor', fn: sequential(work) },
    ],
  }),
];
