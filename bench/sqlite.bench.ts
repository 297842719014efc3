/**
 * The board on SQLite: the three-agent chain on a SQLite file (WAL, synchronous NORMAL, libsql)
 * beside the same chain on the memory store, and beside the raw driver running the same
 * transactions without the board (what the store cannot go below), in one run.
 *
 * The board groups completions into one transaction (group commit) and, with batched claims, claims
 * as many runs as it has free permits. The store under the board counts what it was asked (claims and
 * runs per claim, completion transactions and completions per transaction), and the raw baseline
 * then runs transactions of the same sizes: the comparison is of the same transactions, whatever the
 * board managed to group.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { Board, MemoryStore, artifactType, type BoardStore } from 'skein/board';
import type { ClaimedRun, ClaimRef, ClaimRequest, Completion, CompletionItem, UnitResult } from 'skein/board/store';
import { SqliteStore, migrate, openDriver } from 'skein/board/sqlite';
import { SQL } from '../src/board/stores/sqlite/statements.js';
import { customSuite, type Figure } from './harness.js';

const Value = z.object({ n: z.number() });
const A = artifactType('A', Value);
const B = artifactType('B', Value);
const C = artifactType('C', Value);
const D = artifactType('D', Value);

const ARTIFACTS = 2_000;
const RUNS = ARTIFACTS * 3;

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const perSecond = (ms: number) => Math.round((RUNS * 1000) / ms);

/** A SQLite store that counts the claims and completion transactions the board asks of it. */
class CountingStore extends SqliteStore {
  claims = 0;
  claimed = 0;
  completionWrites = 0;
  completions = 0;

  override claim(request: ClaimRequest): ClaimedRun[] {
    const runs = super.claim(request);
    this.claims++;
    this.claimed += runs.length;
    return runs;
  }

  override complete(claim: ClaimRef, completion: Completion, now: number): UnitResult {
    this.completionWrites++;
    this.completions++;
    return super.complete(claim, completion, now);
  }

  override completeMany(items: readonly CompletionItem[], now: number): PromiseSettledResult<UnitResult>[] {
    this.completionWrites++;
    this.completions += items.length;
    return super.completeMany(items, now);
  }
}

/** The chain A -> B -> C -> D on `store`, `count` artifacts published one by one, agents running `concurrency` runs each; the elapsed ms. */
async function runChain(store: BoardStore, count: number, concurrency: number): Promise<number> {
  const board = new Board({ store });
  board.agent('first').consumes(A).publishes(B).maxConcurrency(concurrency).handle(([a]) => ({ n: a.payload.n + 1 }));
  board.agent('second').consumes(B).publishes(C).maxConcurrency(concurrency).handle(([b]) => ({ n: b.payload.n + 1 }));
  board.agent('third').consumes(C).publishes(D).maxConcurrency(concurrency).handle(([c]) => ({ n: c.payload.n + 1 }));
  const start = performance.now();
  for (let i = 0; i < count; i++) await board.publish(A, { n: i });
  await board.runUntilIdle();
  const elapsed = performance.now() - start;
  const done = Object.values(board.stats().agents).reduce((total, agent) => total + agent.done, 0);
  if (done !== count * 3) throw new Error(`expected ${count * 3} runs, got ${done}`);
  await board.shutdown();
  return elapsed;
}

/** How the raw baseline groups its transactions. */
interface Grouping {
  /** Runs each agent takes per wave (its concurrency). */
  readonly perAgent: number;
  /** Runs per claim statement. */
  readonly claimLimit: number;
  /** Completions per transaction. */
  readonly completionsPerTransaction: number;
}

/**
 * The same transactions with the raw driver and no board: the store's own schema and statements,
 * run by hand. Per input, a publish unit (workflow check, artifact, run). In waves: each agent claims
 * up to `perAgent` runs (UPDATE ... RETURNING, `claimLimit` at a time), reads their inputs, then the
 * wave's completions are written `completionsPerTransaction` to a BEGIN IMMEDIATE transaction (per
 * completion: the claim guard and end of the run in one DELETE ... RETURNING, the output artifact,
 * the next run).
 */
function runRaw(path: string, count: number, grouping: Grouping): number {
  const db = openDriver({ path });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  migrate(db);
  const agents = ['first', 'second', 'third'];
  const types = ['A', 'B', 'C', 'D'];
  const write = (id: string, type: string, n: number, producedBy: string, correlationId: string, next: string | undefined) => {
    const artifact = { id, type, payload: { n }, producedBy, correlationId, tags: [], visibility: { kind: 'public' }, createdAt: new Date().toISOString(), causedBy: [] };
    db.prepare(SQL.insertArtifact).run([id, type, correlationId, producedBy, artifact.createdAt, JSON.stringify(artifact)]);
    if (next !== undefined) db.prepare(SQL.insertRun).run([`${id}>${next}`, next, 0, JSON.stringify([id]), correlationId, Date.now(), null]);
  };
  const start = performance.now();
  let published = 0;
  let done = 0;
  while (done < count * 3) {
    for (let i = 0; i < grouping.perAgent && published < count; i++, published++) {
      const n = published;
      db.transaction(() => {
        if (db.prepare(SQL.workflowState).get([`wf-${n}`]) !== undefined) throw new Error('workflow not active');
        write(`in-${n}`, 'A', n, 'external', `wf-${n}`, 'first');
      });
    }
    const wave: { run: Record<string, unknown>; step: number; n: number }[] = [];
    for (let step = 0; step < 3; step++) {
      let taken = 0;
      while (taken < grouping.perAgent) {
        const limit = Math.min(grouping.claimLimit, grouping.perAgent - taken);
        const runs = db.prepare(SQL.claimRunsOfAgent).all(['raw', Date.now() + 60_000, agents[step]!, limit]);
        for (const run of runs) {
          const [inputId] = JSON.parse(run.input_ids as string) as [string];
          const input = db.prepare(SQL.artifactById).get([inputId])!;
          wave.push({ run, step, n: (JSON.parse(input.body as string) as { payload: { n: number } }).payload.n });
        }
        taken += runs.length;
        if (runs.length < limit) break;
      }
    }
    for (let from = 0; from < wave.length; from += grouping.completionsPerTransaction) {
      db.transaction(() => {
        for (const { run, step, n } of wave.slice(from, from + grouping.completionsPerTransaction)) {
          const held = db.prepare(SQL.endHeldRun).get([run.id as string, 'raw', run.attempt as number]);
          if (held === undefined || held.workflow_state !== null) throw new Error('claim lost');
          write(`${run.id as string}#0`, types[step + 1]!, n + 1, agents[step]!, run.correlation_id as string, agents[step + 1]);
        }
      });
    }
    done += wave.length;
  }
  const elapsed = performance.now() - start;
  db.close();
  return elapsed;
}

/** The chain at `concurrency` runs per agent on SQLite, the memory store, and the raw driver grouped as the board grouped. */
async function measure(concurrency: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'skein-bench-sqlite-'));
  let files = 0;
  const file = () => join(dir, `chain-${++files}.db`);
  try {
    await runChain(new SqliteStore({ path: file() }), 300, concurrency);
    await runChain(new MemoryStore(), 300, concurrency);
    const sqlite: number[] = [];
    const memory: number[] = [];
    const raw: number[] = [];
    const rawUngrouped: number[] = [];
    let grouping: Grouping | undefined;
    let counts = { claimed: 0, claims: 0, completions: 0, completionWrites: 0 };
    for (let round = 0; round < 3; round++) {
      const store = new CountingStore({ path: file() });
      sqlite.push(await runChain(store, ARTIFACTS, concurrency));
      counts = { claimed: counts.claimed + store.claimed, claims: counts.claims + store.claims, completions: counts.completions + store.completions, completionWrites: counts.completionWrites + store.completionWrites };
      memory.push(await runChain(new MemoryStore(), ARTIFACTS, concurrency));
      grouping ??= {
        perAgent: concurrency,
        claimLimit: Math.max(1, Math.round(store.claimed / store.claims)),
        completionsPerTransaction: Math.max(1, Math.round(store.completions / store.completionWrites)),
      };
      if (round === 0) runRaw(file(), 300, grouping);
      raw.push(runRaw(file(), ARTIFACTS, grouping));
      rawUngrouped.push(runRaw(file(), ARTIFACTS, { perAgent: concurrency, claimLimit: 1, completionsPerTransaction: 1 }));
    }
    const sqliteRate = perSecond(median(sqlite));
    const memoryRate = perSecond(median(memory));
    const rawRate = perSecond(median(raw));
    return [
      { name: 'board on SQLite', value: sqliteRate, unit: 'runs/s' },
      { name: 'board on the memory store', value: memoryRate, unit: 'runs/s' },
      { name: 'raw driver, same transactions, no board', value: rawRate, unit: 'runs/s' },
      { name: 'raw driver, one claim and one completion per transaction', value: perSecond(median(rawUngrouped)), unit: 'runs/s' },
      { name: 'SQLite board / raw driver', value: sqliteRate / rawRate, unit: 'x' },
      { name: 'SQLite board / memory board', value: sqliteRate / memoryRate, unit: 'x' },
      { name: 'board: runs per claim', value: counts.claimed / counts.claims, unit: 'runs' },
      { name: 'board: completions per transaction', value: counts.completions / counts.completionWrites, unit: 'runs' },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const workload = (concurrency: number) =>
  `${ARTIFACTS.toLocaleString('en-US')} artifacts published one by one through A -> B -> C -> D (${RUNS.toLocaleString('en-US')} runs), each agent running up to ${concurrency} run${concurrency === 1 ? '' : 's'} at once: ` +
  'on a SQLite file (libsql, WAL, synchronous NORMAL), on the memory store, and with the raw driver running transactions of the sizes the board used ' +
  '(runs per claim and completions per transaction as counted under the board; also one per transaction, the board without grouping); median of 3 rounds after a warm-up, each on a new file.';

export default [
  customSuite({
    name: 'board on SQLite: chain of three trivial agents',
    description: workload(1),
    run: () => measure(1),
  }),
  customSuite({
    name: 'board on SQLite: chain of three trivial agents, 8 runs at once per agent',
    description:
      `${workload(8)} Agents that call a model or a service run several runs at once (maxConcurrency), which is what lets claims and completions be grouped into fewer transactions.`,
    run: () => measure(8),
  }),
];
