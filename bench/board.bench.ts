/**
 * The board: throughput of a chain of agents, publish latency, and memory under a flood (to show
 * that backpressure bounds it). Figures rather than times per call, so these are custom suites.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { Board, MemoryStore, artifactType } from 'skein/board';
import type * as BoardApi from 'skein/board';
import { customSuite, type Figure } from './harness.js';

const Value = z.object({ n: z.number() });
const A = artifactType('A', Value);
const B = artifactType('B', Value);
const C = artifactType('C', Value);
const D = artifactType('D', Value);

const ARTIFACTS = 10_000;

/**
 * The board of the commit before the store-contract split (af17026), for the side-by-side run: the
 * path of a checkout of that commit (with its own `npm ci`) in `SKEIN_BENCH_PREVIOUS_BOARD`; the
 * comparison is skipped when it is unset.
 */
const PREVIOUS_CHECKOUT = process.env.SKEIN_BENCH_PREVIOUS_BOARD;

type BoardModule = typeof BoardApi;

function chainBoard(board: Board = new Board()): Board {
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

interface ChainFigures {
  readonly runsPerSecond: number;
  readonly peakRssMb: number;
}

/**
 * The three-agent chain at scale, in one workflow per input: runs per second and peak RSS growth,
 * with the memory store keeping everything or keeping the last 10,000 artifacts (retention).
 */
async function scaledChain(count: number, retain: boolean): Promise<ChainFigures> {
  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peakRss = baseline;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const board = chainBoard(new Board({ store: new MemoryStore(retain ? { maxArtifacts: 10_000 } : undefined) }));
  const start = performance.now();
  try {
    for (let i = 0; i < count; i++) await board.publish(A, { n: i });
    await board.runUntilIdle();
  } finally {
    clearInterval(sampler);
  }
  const elapsed = performance.now() - start;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  await board.shutdown();
  return { runsPerSecond: Math.round((count * 3 * 1000) / elapsed), peakRssMb: (peakRss - baseline) / 2 ** 20 };
}

/** The same chain on a board module (this one or the previous implementation); elapsed ms. */
async function chainOn(module: BoardModule, count: number): Promise<number> {
  const board = new module.Board();
  const [a, b, c, d] = ['A', 'B', 'C', 'D'].map((name) => module.artifactType(name, Value));
  board.agent('first').consumes(a!).publishes(b!).handle(([x]) => ({ n: (x.payload).n + 1 }));
  board.agent('second').consumes(b!).publishes(c!).handle(([x]) => ({ n: (x.payload).n + 1 }));
  board.agent('third').consumes(c!).publishes(d!).handle(([x]) => ({ n: (x.payload).n + 1 }));
  const start = performance.now();
  for (let i = 0; i < count; i++) await board.publish(a!, { n: i });
  await board.runUntilIdle();
  const elapsed = performance.now() - start;
  await board.shutdown();
  return elapsed;
}

/**
 * A join with one side queued first: `count` Orders wait under one key, then `count` Shipments
 * arrive, each matched with the oldest waiting Order. Microseconds per Shipment: flat when taking a
 * partner is O(1) however many wait.
 */
async function joinQueuedFirst(count: number): Promise<number> {
  const Left = artifactType('Left', Value);
  const Right = artifactType('Right', Value);
  const board = new Board({ queueCapacity: 1_000_000 });
  board.agent('pair').consumes([Left, Right], { join: { by: () => 'one-key', withinMs: 3_600_000 } }).handle(() => {});
  for (let i = 0; i < count; i++) await board.publish(Left, { n: i });
  const start = performance.now();
  for (let i = 0; i < count; i++) await board.publish(Right, { n: i });
  const elapsed = performance.now() - start;
  await board.runUntilIdle();
  if (board.stats().agents.pair!.done !== count) throw new Error(`expected ${count} joined runs, got ${board.stats().agents.pair!.done}`);
  await board.shutdown();
  return (elapsed * 1000) / count;
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

const scales = process.env.SKEIN_BENCH_BOARD_1M === '1' ? [10_000, 100_000, 1_000_000] : [10_000, 100_000];

export default [
  customSuite({
    name: 'board: chain of three agents at scale',
    description:
      `${scales.map((n) => n.toLocaleString('en-US')).join(', ')} inputs through A -> B -> C -> D, one workflow per input, memory store keeping everything or the last 10,000 artifacts (retention). ` +
      'Peak RSS is above the RSS at the start. 1,000,000 inputs with SKEIN_BENCH_BOARD_1M=1 (minutes).',
    async run(): Promise<Figure[]> {
      await scaledChain(2_000, false);
      const figures: Figure[] = [];
      for (const count of scales) {
        for (const retain of [false, true]) {
          const result = await scaledChain(count, retain);
          const label = `${count.toLocaleString('en-US')} inputs, retention ${retain ? 'on' : 'off'}`;
          figures.push({ name: `runs per second, ${label}`, value: result.runsPerSecond, unit: 'runs/s' });
          figures.push({ name: `peak RSS growth, ${label}`, value: result.peakRssMb, unit: 'MB' });
        }
      }
      return figures;
    },
  }),
  customSuite({
    name: 'board: join with one side queued first',
    description: 'n Orders wait under one join key, then n Shipments arrive; the time per Shipment (published, matched, run scheduled) at 10,000 and 100,000.',
    async run(): Promise<Figure[]> {
      await joinQueuedFirst(1_000);
      return [
        { name: 'per artifact, 10,000 waiting', value: await joinQueuedFirst(10_000), unit: 'µs' },
        { name: 'per artifact, 100,000 waiting', value: await joinQueuedFirst(100_000), unit: 'µs' },
      ];
    },
  }),
  customSuite({
    name: 'board: chain against the previous implementation',
    description:
      `${ARTIFACTS.toLocaleString('en-US')} inputs through the three-agent chain on this board and on the board of commit af17026, alternating, median of 5 rounds after a warm-up. ` +
      'Set SKEIN_BENCH_PREVIOUS_BOARD to a checkout of that commit (for example `git worktree add <dir> af17026`, then `npm ci` in it); skipped when unset.',
    async run(): Promise<Figure[]> {
      if (PREVIOUS_CHECKOUT === undefined || PREVIOUS_CHECKOUT === '') return [];
      const previous = (await import(pathToFileURL(join(PREVIOUS_CHECKOUT, 'src/board/index.ts')).href)) as BoardModule;
      const current = (await import('skein/board'));
      await chainOn(current, 2_000);
      await chainOn(previous, 2_000);
      const now: number[] = [];
      const before: number[] = [];
      for (let round = 0; round < 5; round++) {
        now.push(await chainOn(current, ARTIFACTS));
        before.push(await chainOn(previous, ARTIFACTS));
      }
      const nowMs = median(now);
      const beforeMs = median(before);
      return [
        { name: 'this board', value: Math.round((ARTIFACTS * 3 * 1000) / nowMs), unit: 'runs/s' },
        { name: 'previous board (af17026)', value: Math.round((ARTIFACTS * 3 * 1000) / beforeMs), unit: 'runs/s' },
        { name: 'ratio (this / previous, goal >= 0.95)', value: beforeMs / nowMs, unit: 'x' },
      ];
    },
  }),
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
