/**
 * The chaos test through the board: 4 worker processes, each a real `Board({ store: PostgresStore,
 * shared: true })`, work one workflow of over 5,000 runs (a chain, a streaming agent, a batch, a join
 * and a retrying agent, see `sqlite/fixtures/crash-board.ts`) while this process publishes the
 * orders from a `work: false` board and SIGKILLs a random worker at random moments, at least 20
 * times, starting a new one each time. At the end the store's artifacts and dead letters equal those
 * of an uninterrupted in-memory run: nothing lost, nothing applied twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Board } from '../../board.js';
import { MemoryStore } from '../memory-store.js';
import { declareCrashAgents, outcome, publishOrders } from '../sqlite/fixtures/crash-board.js';
import { PostgresStore } from './postgres-store.js';
import { dropSchema, freshSchema, POSTGRES_URL } from './test-schema.js';

const ORDERS = 1_000; // about 5,300 runs: parse, ship, enrich, flaky, match per order, a summary per 3
const WORKERS = 4;
const KILLS = 20;
const PACE_MS = 2;
const LEASE_MS = 3_000;
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

/** Completions across all worker processes, and who waits for a number of them. */
class Progress {
  units = 0;
  reruns = 0;
  #waiters: { count: number; resolve: () => void }[] = [];

  unit(): void {
    this.units++;
    this.#waiters = this.#waiters.filter((w) => (this.units >= w.count ? (w.resolve(), false) : true));
  }

  /** Resolves once `count` runs completed in all (or when `stop` aborts). */
  reached(count: number, stop: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.units >= count || stop.aborted) return resolve();
      const abort = () => resolve();
      stop.addEventListener('abort', abort, { once: true });
      this.#waiters.push({
        count,
        resolve: () => {
          stop.removeEventListener('abort', abort);
          resolve();
        },
      });
    });
  }
}

class Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<boolean>;
  readonly exited: Promise<void>;

  constructor(file: string, schema: string, progress: Progress) {
    this.child = spawn(process.execPath, [file], {
      cwd: root,
      env: { ...process.env, CHAOS_SCHEMA: schema, CHAOS_PACE_MS: String(PACE_MS), CHAOS_LEASE_MS: String(LEASE_MS) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let readySeen: (ready: boolean) => void = () => {};
    this.ready = new Promise((resolve) => (readySeen = resolve));
    this.exited = new Promise((resolve) => this.child.once('close', () => resolve()));
    void this.exited.then(() => readySeen(false));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (line === 'ready') readySeen(true);
      else if (line === 'rerun') progress.reruns++;
      else if (line === 'unit') progress.unit();
    });
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

/** A small deterministic generator (mulberry32), so that a failing schedule can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Opt-in (SKEIN_CHAOS=1, or `npm run chaos:postgres`): on this shared 2-core machine under load it
// takes 3 to 5 minutes, beyond what the suite affords per Node version.
describe.skipIf(POSTGRES_URL === undefined || process.env.SKEIN_CHAOS !== '1')('boards on PostgreSQL under crashing workers', () => {
  it(
    `ends with exactly the outputs of an uninterrupted run when ${WORKERS} board processes are SIGKILLed ${KILLS} times during a workflow of over 5,000 runs`,
    async () => {
      const started = Date.now();
      // The reference: the same agents and orders on the memory store, one board, no crash.
      const reference = new MemoryStore();
      let totalRuns = 0;
      {
        await using board = new Board({ store: reference });
        declareCrashAgents(board, 0);
        await publishOrders(board, ORDERS);
        await board.runUntilIdle();
        for (const agent of Object.values(board.stats().agents)) totalRuns += agent.done + agent.failed;
      }
      const expected = await outcome(reference);
      const file = await bundleWorker();
      const schema = freshSchema('skein_board_chaos');
      const progress = new Progress();
      const workers: Worker[] = [];
      const next = random(Number(process.env.SKEIN_CHAOS_SEED ?? 7));
      let kills = 0;
      let spawned = 0;
      // The publisher: validates, routes and publishes, claims nothing; waits for idle across workers.
      const publisherStore = await PostgresStore.open({ connectionString: POSTGRES_URL!, schema, poolSize: 3 });
      const publisher = new Board({ store: publisherStore, shared: { pollMs: 100 }, work: false });
      const stop = new AbortController();
      try {
        declareCrashAgents(publisher, 0);
        for (let i = 0; i < WORKERS; i++, spawned++) workers.push(new Worker(file, schema, progress));
        const publishing = publishOrders(publisher, ORDERS);
        // The kills land at random points spread over the whole run (by completions counted across
        // the workers), each on a random worker, a few milliseconds after the point.
        const points = Array.from({ length: KILLS }, () => Math.floor((0.02 + 0.9 * next()) * totalRuns)).sort((a, b) => a - b);
        const idle = publishing.then(() => publisher.runUntilIdle({ timeoutMs: 240_000 })).finally(() => stop.abort());
        idle.catch(() => {});
        for (const point of points) {
          await progress.reached(point, stop.signal);
          if (stop.signal.aborted) break;
          const index = Math.floor(next() * workers.length);
          await new Promise((resolve) => setTimeout(resolve, next() * 20));
          await workers[index]!.kill('SIGKILL');
          kills++;
          workers[index] = new Worker(file, schema, progress);
          spawned++;
        }
        const unitsAtLastKill = progress.units;
        await idle;
        const actual = await outcome(publisherStore);
        console.log(
          `board chaos: ${kills} SIGKILLs, ${spawned} worker processes, ${progress.units} completions (${unitsAtLastKill} before the last kill), ` +
            `${progress.reruns} runs claimed again after a kill, ${Date.now() - started} ms in all`,
        );
        expect(totalRuns).toBeGreaterThan(5_000);
        expect(kills).toBeGreaterThanOrEqual(KILLS);
        expect(unitsAtLastKill).toBeLessThan(totalRuns); // the kills landed while there was work
        expect(progress.reruns).toBeGreaterThan(0); // and some while a worker held runs
        expect(actual.length).toBe(expected.length);
        expect(actual).toEqual(expected);
      } finally {
        stop.abort();
        await Promise.all(workers.map((w) => w.kill('SIGTERM')));
        await publisher.shutdown();
        await dropSchema(schema);
        rmSync(file, { force: true });
      }
    },
    300_000,
  );
});
