/**
 * Worker-thread offload: what one call costs (a trivial function through the pool, through raw
 * piscina, and called directly), and what offloading buys for CPU-heavy work (SHA-256 of 1 MiB):
 * throughput with the pool versus on the main thread, and how long the main event loop stalls
 * meanwhile, which is the reason to offload at all.
 */
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { Piscina } from 'piscina';
import { WorkerPool } from 'skein/worker';
import { customSuite, timedSuite, type Figure } from './harness.js';

const filename = new URL('../src/runtime/fixtures/tasks.mjs', import.meta.url);
const MIB = 1 << 20;
const threads = availableParallelism();

// Shared by the two suites; the last suite closes them, so no thread outlives the run.
const pool = new WorkerPool<unknown, unknown>({ filename, name: 'echo' });
const piscina = new Piscina({ filename: filename.href, name: 'echo', minThreads: 0, maxThreads: threads, recordTiming: false });
const signal = new AbortController().signal;
// Every call in flight listens on the caller's signal; 64 hashes in flight are 64 listeners, by design.
setMaxListeners(256, signal);

const input = { id: 1, name: 'order', items: [1, 2, 3] };
const echo = (value: unknown): unknown => value;

/** The main-thread version of the worker's `sha256`: same work, same buffer reuse. */
const data = Buffer.alloc(MIB, 'skein');
const sha256 = (): string => createHash('sha256').update(data).digest('hex');

/** Runs `work` while a 1 ms ticker measures the main loop; returns elapsed ms and the worst stall. */
async function measure(work: () => Promise<unknown>): Promise<{ elapsedMs: number; worstStallMs: number }> {
  let last = performance.now();
  let worstStallMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    worstStallMs = Math.max(worstStallMs, now - last - 1);
    last = now;
  }, 1);
  const start = performance.now();
  try {
    await work();
  } finally {
    clearInterval(ticker);
  }
  const end = performance.now();
  // A stall still going on when the work ends has not been seen by the ticker yet.
  worstStallMs = Math.max(worstStallMs, end - last - 1);
  return { elapsedMs: end - start, worstStallMs };
}

const HASHES = 64;

export default [
  timedSuite({
    name: 'runtime: offload overhead per call (trivial function)',
    description: `Send a small object to a worker, get it back (${threads} threads). The floor is calling the function directly.`,
    timeMs: 2_000,
    cases: [
      { name: 'skein WorkerPool.run', role: 'skein', fn: () => pool.run(input, { signal }) },
      { name: 'piscina run (signal)', role: 'peer', fn: () => piscina.run(input, { signal }) },
      { name: 'piscina run (no signal)', role: 'peer', fn: () => piscina.run(input) },
      { name: 'direct call (floor)', role: 'floor', fn: () => echo(input) },
    ],
  }),
  customSuite({
    name: 'runtime: CPU-heavy throughput, SHA-256 of 1 MiB',
    description:
      `Hash ${HASHES} x 1 MiB: through the pool (${threads} threads, all calls in flight) and one after another on the ` +
      'main thread, while a 1 ms timer measures how long the main event loop stalls.',
    run: async () => {
      const hashPool = new WorkerPool<number, string>({ filename, name: 'sha256' });
      try {
        // Warm both: thread start-up, module load and the per-thread buffer are not the steady state.
        await Promise.all(Array.from({ length: threads * 2 }, () => hashPool.run(MIB)));
        for (let i = 0; i < 4; i++) sha256();

        const pooled = await measure(() => Promise.all(Array.from({ length: HASHES }, () => hashPool.run(MIB, { signal }))));
        const direct = await measure(() => {
          for (let i = 0; i < HASHES; i++) sha256();
          return Promise.resolve();
        });
        const mibPerSecond = (elapsedMs: number): number => HASHES / (elapsedMs / 1_000);
        const figures: Figure[] = [
          { name: 'pool throughput', value: mibPerSecond(pooled.elapsedMs), unit: 'MiB/s' },
          { name: 'main thread throughput', value: mibPerSecond(direct.elapsedMs), unit: 'MiB/s' },
          { name: 'throughput ratio pool / main thread', value: direct.elapsedMs / pooled.elapsedMs, unit: 'x' },
          { name: 'worst main-loop stall, pool', value: pooled.worstStallMs, unit: 'ms' },
          { name: 'worst main-loop stall, main thread', value: direct.worstStallMs, unit: 'ms' },
        ];
        return figures;
      } finally {
        await hashPool.close();
        await pool.close();
        await piscina.close();
      }
    },
  }),
];
