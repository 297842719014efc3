/**
 * Runs in headless Chromium (test/browser.test.ts bundles it with esbuild): the primitives used as a
 * browser app would, each check returning plain data for the test to compare.
 */
import {
  CancelledError,
  Channel,
  CircuitBreaker,
  Mutex,
  Semaphore,
  TimeoutError,
  consecutive,
  constant,
  gather,
  map,
  race,
  retryPolicy,
  scope,
  sleep,
  timeout,
  wrap,
} from 'skein';

export async function run(): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};

  // gather: the first failure aborts the sibling, which settles before gather rejects.
  let siblingSaw: string | undefined;
  const failed = await gather([
    async () => {
      await sleep(5);
      throw new Error('boom');
    },
    async (signal) => {
      await sleep(10_000, { signal }).catch((error: unknown) => {
        siblingSaw = error instanceof CancelledError ? 'CancelledError' : String(error);
      });
    },
  ]).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
  results.gather = { failed, siblingSaw };

  results.scope = await scope(async (group) => {
    const a = group.spawn(async (signal) => {
      await sleep(2, { signal });
      return 20;
    });
    const b = group.spawn(async () => 22);
    return (await a) + (await b);
  });

  results.timeout = await timeout((signal) => sleep(10_000, { signal }), 10).catch((error: unknown) => error instanceof TimeoutError);

  const mirror = (name: string, ms: number) => async (signal: AbortSignal) => {
    await sleep(ms, { signal });
    return name;
  };
  results.race = await race([mirror('fast', 1), mirror('slow', 10_000)]);

  let running = 0;
  let peak = 0;
  results.map = await map([1, 2, 3, 4, 5], async (n, _index, signal) => {
    peak = Math.max(peak, ++running);
    await sleep(2, { signal });
    running--;
    return n * n;
  }, { concurrency: 2 });
  results.peak = peak;

  const semaphore = new Semaphore(1);
  const mutex = new Mutex();
  results.locks = [await semaphore.run(async () => 'semaphore'), await mutex.run(async () => 'mutex')];

  const channel = new Channel<number>(1);
  const consumer = (async () => {
    let sum = 0;
    for await (const n of channel) sum += n;
    return sum;
  })();
  for (const n of [1, 2, 3]) await channel.send(n);
  channel.close();
  results.channel = await consumer;

  let calls = 0;
  const breaker = new CircuitBreaker({ policy: consecutive(5), openMs: 1_000 });
  results.retry = await wrap(retryPolicy({ maxAttempts: 3, backoff: constant(1) }), breaker).execute(async () => {
    if (++calls < 3) throw new Error('flaky');
    return `ok after ${calls}`;
  });
  return results;
}
