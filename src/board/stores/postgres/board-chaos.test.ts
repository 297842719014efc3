/**
 * The chaos test through the board: 4 worker processes, each a real `Board({ store: PostgresStore,
 * shared: true })`, work one workflow of over 5,000 runs (a chain, a streaming agent, a batch, a join
 * and a retrying agent with dead letters, see `sqlite/fixtures/crash-board.ts`) while this process
 * publishes the orders from a `work: false` board and SIGKILLs a worker at least 20 times, each time
 * one that holds claimed runs at that moment, starting a new one in its place. At the end the store's
 * artifacts, dead letters, queue and gates equal those of an uninterrupted in-memory run: nothing
 * lost, nothing applied twice.
 *
 * It runs whenever `SKEIN_TEST_POSTGRES_URL` is set. `SKEIN_CHAOS=1` (`npm run chaos:postgres`) runs
 * a longer version (3,000 orders, 60 kills); `SKEIN_CHAOS_SEED` replays a kill schedule.
 *
 * Nothing in it waits for a fixed time: the kills follow completions counted across the workers, the
 * end is the publisher's `runUntilIdle()`, and the only deadline is a stall watchdog (no run completed
 * for two minutes), so a loaded machine makes it slower, never failing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Board } from '../../board.js';
import { MemoryStore } from '../memory-store.js';
import { declareCrashAgents, outcome, publishOrderRange } from '../sqlite/fixtures/crash-board.js';
import { PostgresStore } from './postgres-store.js';
import { dropSchema, freshSchema, POSTGRES_URL } from './test-schema.js';

const LONG = process.env.SKEIN_CHAOS === '1';
const ORDERS = LONG ? 3_000 : 1_000; // about 5.3 runs per order: parse, ship, enrich, flaky, match, a summary per 3
const KILLS = LONG ? 60 : 20;
const WORKERS = 4;
const PACE_MS = 2;
const LEASE_MS = 3_000;
/** The kills land between these fractions of the runs; the last tenth of the orders is published after them. */
const FIRST_KILL = 0.02;
const LAST_KILL = 0.8;
const HELD_BACK = 0.1;
/** The test fails if no run completes for this long (a lost run, a stuck worker). */
const STALL_MS = 120_000;
const AGENTS = ['parse', 'ship', 'enrich', 'flaky', 'summarise', 'match'];
const root = fileURLToPath(new URL('../../../../', import.meta.url));

async function bundleWorker(): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = join(root, '.tmp', `board-worker-${process.pid}-${Date.now()}.mjs`);
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [fileURLToPath(new URL('./fixtures/board-worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    external: ['pg', 'libsql', '@opentelemetry/api'],
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

/** The same agents and orders on the memory store, one board, no crash: what the workers must end with. */
async function referenceRun(): Promise<{ expected: string[]; runs: number }> {
  const store = new MemoryStore();
  let runs = 0;
  {
    await using board = new Board({ store });
    declareCrashAgents(board, 0);
    for (const agent of AGENTS) board.setMaxConcurrency(agent, 8);
    await publishOrderRange(board, 0, ORDERS);
    await board.runUntilIdle();
    for (const agent of Object.values(board.stats().agents)) runs += agent.done + agent.failed;
  }
  return { expected: await outcome(store), runs };
}

/** Completions across all worker processes, and who waits for a number of them. */
class Progress {
  units = 0;
  reruns = 0;
  lastUnitAt = Date.now();
  #waiters: { count: number; resolve: () => void }[] = [];

  unit(): void {
    this.units++;
    this.lastUnitAt = Date.now();
    this.#waiters = this.#waiters.filter((w) => (this.units >= w.count ? (w.resolve(), false) : true));
  }

  /** Resolves once `count` runs completed in all (or when `stop` aborts). */
  reached(count: number, stop: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.units >= count || stop.aborted) return resolve();
      const waiter = { count, resolve: () => (stop.removeEventListener('abort', abort), resolve()) };
      const abort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      };
      stop.addEventListener('abort', abort, { once: true });
      this.#waiters.push(waiter);
    });
  }
}

/** One worker process (`fixtures/board-worker.ts`, bundled). */
class Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<boolean>;
  readonly exited: Promise<void>;
  isReady = false;
  /** The board's owner id in the store, known from its first claim. */
  owner: string | undefined;

  /** Set before this test stops it: any other exit is a worker that crashed on its own. */
  stopping = false;

  constructor(file: string, schema: string, progress: Progress, crashed: (error: Error) => void) {
    this.child = spawn(process.execPath, [file], {
      cwd: root,
      env: { ...process.env, CHAOS_SCHEMA: schema, CHAOS_PACE_MS: String(PACE_MS), CHAOS_LEASE_MS: String(LEASE_MS) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let readySeen: (ready: boolean) => void = () => {};
    this.ready = new Promise((resolve) => (readySeen = resolve));
    this.exited = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.child.once('exit', (code, signal) => {
      if (!this.stopping) crashed(new Error(`worker ${this.child.pid} exited on its own (code ${code}, signal ${signal})`));
    });
    void this.exited.then(() => {
      this.isReady = false;
      readySeen(false);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (line === 'unit') progress.unit();
      else if (line === 'rerun') progress.reruns++;
      else if (line.startsWith('owner ')) this.owner = line.slice('owner '.length);
      else if (line === 'ready') {
        this.isReady = true;
        readySeen(true);
      }
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (the worker hands its runs back and exits), SIGKILL if it has not exited 30 s later. */
  async stop(): Promise<void> {
    const timer = setTimeout(() => void this.kill('SIGKILL'), 30_000);
    await this.kill('SIGTERM');
    clearTimeout(timer);
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    this.stopping = true;
    if (this.alive) this.child.kill(signal);
    await this.exited;
  }
}

/** A small deterministic generator (mulberry32), so that a kill schedule can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The lines of `a` not in `b`, counting repeats. */
function difference(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const line of b) left.set(line, (left.get(line) ?? 0) + 1);
  return a.filter((line) => {
    const count = left.get(line) ?? 0;
    if (count > 0) left.set(line, count - 1);
    return count === 0;
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(POSTGRES_URL === undefined)('boards on PostgreSQL under crashing workers', () => {
  it(
    `ends with exactly the outputs of an uninterrupted in-memory run when ${WORKERS} board processes are SIGKILLed ${KILLS} times while they hold runs of a workflow of over 5,000 runs`,
    async () => {
      const started = Date.now();
      const seed = Number(process.env.SKEIN_CHAOS_SEED ?? Date.now() % 2 ** 31);
      const next = random(seed);
      const file = await bundleWorker();
      const schema = freshSchema('skein_board_chaos');
      const progress = new Progress();
      const stop = new AbortController();
      const workers: Worker[] = [];
      let spawned = 0;
      let kills = 0;
      const startWorker = () => {
        spawned++;
        return new Worker(file, schema, progress, (error) => stop.abort(error));
      };
      let watchdog: ReturnType<typeof setInterval> | undefined;
      let publisher: Board | undefined;
      try {
        // The publisher first (it applies the migrations), then the workers, which boot while this
        // process computes the reference run.
        const publisherStore = await PostgresStore.open({ connectionString: POSTGRES_URL!, schema, poolSize: 6 });
        publisher = new Board({ store: publisherStore, shared: { pollMs: 100 }, work: false });
        declareCrashAgents(publisher, 0);
        for (let i = 0; i < WORKERS; i++) workers.push(startWorker());
        const { expected, runs } = await referenceRun();
        expect(runs).toBeGreaterThan(5_000);

        progress.lastUnitAt = Date.now();
        watchdog = setInterval(() => {
          const quietMs = Date.now() - progress.lastUnitAt;
          if (quietMs > STALL_MS) stop.abort(new Error(`no run completed for ${quietMs} ms (${progress.units} completions so far, seed ${seed})`));
        }, 1_000);
        const heldBack = Math.floor(ORDERS * (1 - HELD_BACK));
        const publishing = publishOrderRange(publisher, 0, heldBack);
        publishing.catch(() => {});

        // Each kill waits for its point (completions across the workers), then for a worker that has
        // claimed runs it has not finished, and kills it at once.
        const points = Array.from({ length: KILLS }, () => Math.floor((FIRST_KILL + (LAST_KILL - FIRST_KILL) * next()) * runs)).sort((a, b) => a - b);
        let interrupted = 0;
        let heldAtKills = 0;
        const victim = async (): Promise<{ index: number; held: number }> => {
          for (;;) {
            stop.signal.throwIfAborted();
            // Never more than half the workers down at once: the others keep the work flowing.
            const ready = workers.filter((w) => w.isReady);
            if (ready.length < WORKERS / 2) {
              await Promise.race(workers.filter((w) => !w.isReady).map((w) => w.ready));
              continue;
            }
            const running = await publisherStore.listRuns({ state: 'running' });
            const holders = ready
              .map((worker) => ({ index: workers.indexOf(worker), held: running.filter((run) => run.owner === worker.owner).length }))
              .filter((candidate) => candidate.held > 0);
            if (holders.length > 0) return holders[Math.floor(next() * holders.length)]!;
            // Nothing held by a ready worker: either they are about to claim, or there is nothing to claim.
            const pending = await publisherStore.pending();
            if (pending.queued + pending.running === 0) return { index: workers.indexOf(ready[Math.floor(next() * ready.length)]!), held: 0 };
            await sleep(10);
          }
        };
        for (const point of points) {
          await progress.reached(point, stop.signal);
          const { index, held } = await victim();
          await workers[index]!.kill('SIGKILL');
          kills++;
          if (held > 0) interrupted++;
          heldAtKills += held;
          workers[index] = startWorker();
        }
        const unitsAtLastKill = progress.units;
        await publishing;
        await publishOrderRange(publisher, heldBack, ORDERS);
        await publisher.runUntilIdle({ signal: stop.signal });
        const actual = await outcome(publisherStore);
        stop.signal.throwIfAborted(); // no worker crashed on its own meanwhile
        console.log(
          `board chaos (seed ${seed}): ${kills} SIGKILLs (${interrupted} of workers holding runs, ${heldAtKills} runs held in all), ${spawned} worker processes, ` +
            `${runs} runs in the reference, ${progress.units} completions (${unitsAtLastKill} before the last kill), ${progress.reruns} runs claimed again, ${Date.now() - started} ms in all`,
        );
        expect(kills).toBeGreaterThanOrEqual(20);
        // Every kill but a rare one whose moment found no run claimed anywhere hit a worker mid-work.
        expect(interrupted, `seed ${seed}`).toBeGreaterThanOrEqual(kills / 2);
        expect(unitsAtLastKill).toBeLessThan(runs);
        expect(progress.reruns).toBeGreaterThan(0);
        // What differs, line by line (a lost output is missing, one applied twice is extra), then the whole.
        expect({ missing: difference(expected, actual), extra: difference(actual, expected) }, `seed ${seed}`).toEqual({ missing: [], extra: [] });
        expect(actual, `seed ${seed}`).toEqual(expected);
      } finally {
        clearInterval(watchdog);
        stop.abort();
        await Promise.all(workers.map((w) => w.stop()));
        await publisher?.shutdown();
        await dropSchema(schema);
        rmSync(file, { force: true });
      }
    },
    LONG ? 1_800_000 : 900_000,
  );
});
