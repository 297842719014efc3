/**
 * The board: throughput of a chain of agents, publish latency, and memory under a flood (to show
 * that backpressure bounds it). Figures rather than times per call, so these are custom suites.
 */
import { z } from 'zod';
import { Board, MemoryStore, artifactType } from 'skein/board';
import { customSuite, type Figure } from './harness.js';

const Value = z.object({ n: z.number() });
const A = artifactType('A', Value);
const B = artifactType('B', Value);
const C = artifactType('C', Value);
const D = artifactType('D', Value);

const ARTIFACTS = 10_000;

function chainBoard(): Board {
  const board = new Board();
  board.agent('first').consumes(A).publishes(B).handle(([a]) => ({ n: a.payload.n + 1 }));
  board.agent('second').consumes(B).publishes(C).handle(([b]) => ({ n: b.payload.n + 1 }));
  board.agent('third').consumes(C).publishes(D).handle(([c]) => ({ n: c.payload.n + 1 }));
  return board;
}

/** Publishes `count` artifacts one after the other and waits for idle; returns the elapsed ms. */
async function runChain(count: number): Promise<number> {
  const board = chainBoard();
  const start = performance.now();
  for (let i = 0; i < count; i++) await board.publish(A, { n: i });
  await board.runUntilIdle();
  const elapsed = performance.now() - start;
  const done = Object.values(board.stats().agents).reduce((total, agent) => total + agent.done, 0);
  if (done !== count * 3) throw new Error(`expected ${count * 3} runs, got ${done}`);
  await board.shutdown();
  return elapsed;
}

/** The floor: the same three validated steps as plain awaited function calls, no board. */
async function runFloor(count: number): Promise<number> {
  const step = (n: number): Promise<number> => Promise.resolve(Value.parse({ n: n + 1 }).n);
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    Value.parse({ n: i });
    await step(await step(await step(i)));
  }
  return performance.now() - start;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

async function flood(queueCapacity: number): Promise<{ peakRssMb: number; peakQueued: number; seconds: number }> {
  globalThis.gc?.();
  const board = new Board({ queueCapacity, store: new MemoryStore({ maxArtifacts: 1_000 }) });
  board
    .agent('slow')
    .consumes(A)
    .maxConcurrency(64)
    .handle(() => new Promise<void>((resolve) => setTimeout(resolve, 1)));
  const baseline = process.memoryUsage().rss;
  let peakRss = baseline;
  let peakQueued = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    peakQueued = Math.max(peakQueued, board.stats().agents.slow!.queued);
  }, 20);
  const start = performance.now();
  try {
    for (let i = 0; i < 100_000; i++) await board.publish(A, { n: i });
    await board.runUntilIdle();
  } finally {
    clearInterval(sampler);
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const seconds = (performance.now() - start) / 1000;
  await board.shutdown();
  return { peakRssMb: (peakRss - baseline) / 2 ** 20, peakQueued, seconds };
}

export default [
  customSuite({
    name: 'board: chain of three trivial agents',
    description: `${ARTIFACTS.toLocaleString('en-US')} artifacts published one by one through A -> B -> C -> D (${(ARTIFACTS * 3).toLocaleString('en-US')} runs), in memory; median of 5 rounds after a warm-up. The floor runs the same validated steps as plain awaited calls.`,
    async run(): Promise<Figure[]> {
      await runChain(2_000);
      await runFloor(2_000);
      const board: number[] = [];
      const floor: number[] = [];
      for (let round = 0; round < 5; round++) {
        board.push(await runChain(ARTIFACTS));
        floor.push(await runFloor(ARTIFACTS));
      }
      const boardMs = median(board);
      const floorMs = median(floor);
      return [
        { name: 'skein board runs per second', value: Math.round((ARTIFACTS * 3 * 1000) / boardMs), unit: 'runs/s' },
        { name: 'skein board, best round', value: Math.round((ARTIFACTS * 3 * 1000) / Math.min(...board)), unit: 'runs/s' },
        { name: 'plain awaited calls (floor)', value: Math.round((ARTIFACTS * 3 * 1000) / floorMs), unit: 'steps/s' },
        { name: 'board time / floor time', value: boardMs / floorMs, unit: 'x' },
      ];
    },
  }),
  customSuite({
    name: 'board: publish latency',
    description: `${ARTIFACTS.toLocaleString('en-US')} publishes, one after the other, of an artifact one trivial agent consumes: the time until publish() resolves (validated, stored, scheduled).`,
    async run(): Promise<Figure[]> {
      const board = new Board();
      board.agent('sink').consumes(A).handle(() => {});
      for (let i = 0; i < 2_000; i++) await board.publish(A, { n: i });
      await board.runUntilIdle();
      const latencies: number[] = [];
      for (let i = 0; i < ARTIFACTS; i++) {
        const start = performance.now();
        await board.publish(A, { n: i });
        latencies.push((performance.now() - start) * 1000);
      }
      await board.runUntilIdle();
      await board.shutdown();
      latencies.sort((a, b) => a - b);
      return [
        { name: 'p50', value: percentile(latencies, 50), unit: 'µs' },
        { name: 'p99', value: percentile(latencies, 99), unit: 'µs' },
        { name: 'max', value: latencies.at(-1)!, unit: 'µs' },
      ];
    },
  }),
  customSuite({
    name: 'board: flood of 100,000 artifacts into a slow agent',
    description:
      '100,000 publishes into one agent whose runs each take a 1 ms timer (64 at a time). With the default queue capacity (1,024) publishers wait; ' +
      'with a capacity of 1,000,000 (no effective backpressure) the whole flood queues. Peak RSS is above the RSS at the start. The store keeps the last 1,000 artifacts (retention), so the figures show what the board holds.',
    async run(): Promise<Figure[]> {
      const bounded = await flood(1_024);
      const unbounded = await flood(1_000_000);
      return [
        { name: 'peak RSS growth, capacity 1,024', value: bounded.peakRssMb, unit: 'MB' },
        { name: 'peak queued runs, capacity 1,024', value: bounded.peakQueued, unit: 'runs' },
        { name: 'time, capacity 1,024', value: bounded.seconds, unit: 's' },
        { name: 'peak RSS growth, capacity 1,000,000', value: unbounded.peakRssMb, unit: 'MB' },
        { name: 'peak queued runs, capacity 1,000,000', value: unbounded.peakQueued, unit: 'runs' },
        { name: 'time, capacity 1,000,000', value: unbounded.seconds, unit: 's' },
      ];
    },
  }),
];
