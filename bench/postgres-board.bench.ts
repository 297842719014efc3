/**
 * One board on PostgreSQL, in one process: the three-agent chain with 8 runs at once per agent,
 * beside the same store's units called by hand without the board (a publish per input; claims and
 * completion transactions of the sizes the board used, counted under it), in one run. The
 * multi-worker figures are in postgres.bench.ts. Needs `SKEIN_BENCH_POSTGRES_URL` (or
 * `SKEIN_TEST_POSTGRES_URL`); reports nothing without it.
 */
import pg from 'pg';
import { z } from 'zod';
import { Board, artifactType } from 'skein/board';
import type { Artifact } from 'skein/board';
import type { ClaimedRun, ClaimRequest, CompletionItem, UnitResult } from 'skein/board/store';
import { PostgresStore } from '../src/board/stores/postgres/index.js';
import { customSuite, type Figure } from './harness.js';

const URL_ = process.env.SKEIN_BENCH_POSTGRES_URL ?? process.env.SKEIN_TEST_POSTGRES_URL;
const INPUTS = Number(process.env.SKEIN_BENCH_POSTGRES_INPUTS ?? 1_000);
const CONCURRENCY = 8;
const RUNS = INPUTS * 3;

const Value = z.object({ n: z.number() });
const A = artifactType('A', Value);
const B = artifactType('B', Value);
const C = artifactType('C', Value);
const D = artifactType('D', Value);

/** What the board asked of the store: claims and runs claimed, completion transactions and completions. */
interface Counts {
  claims: number;
  claimed: number;
  completionWrites: number;
  completions: number;
}

/** Counts, on `store` itself, the claims and completion transactions the board asks of it. */
function counting(store: PostgresStore): Counts {
  const counts: Counts = { claims: 0, claimed: 0, completionWrites: 0, completions: 0 };
  const claim = store.claim.bind(store);
  const complete = store.complete.bind(store);
  const completeMany = store.completeMany.bind(store);
  store.claim = async (request: ClaimRequest): Promise<ClaimedRun[]> => {
    const runs = await claim(request);
    counts.claims++;
    counts.claimed += runs.length;
    return runs;
  };
  store.complete = (...args) => {
    counts.completionWrites++;
    counts.completions++;
    return complete(...args);
  };
  store.completeMany = (items: readonly CompletionItem[], now: number): Promise<PromiseSettledResult<UnitResult>[]> => {
    counts.completionWrites++;
    counts.completions += items.length;
    return completeMany(items, now);
  };
  return counts;
}

let schemas = 0;
const schemaName = () => `skein_bench_board_${process.pid}_${++schemas}`;

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: URL_ });
  await client.connect();
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.end();
}

/** The board's chain on a new schema; elapsed ms, and what the store counted. */
async function runBoard(inputs: number): Promise<{ ms: number; counts: Counts }> {
  const schema = schemaName();
  const store = await PostgresStore.open({ connectionString: URL_!, schema, poolSize: 4 });
  const counts = counting(store);
  try {
    const board = new Board({ store });
    board.agent('first').consumes(A).publishes(B).maxConcurrency(CONCURRENCY).handle(([a]) => ({ n: a.payload.n + 1 }));
    board.agent('second').consumes(B).publishes(C).maxConcurrency(CONCURRENCY).handle(([b]) => ({ n: b.payload.n + 1 }));
    board.agent('third').consumes(C).publishes(D).maxConcurrency(CONCURRENCY).handle(([c]) => ({ n: c.payload.n + 1 }));
    const start = performance.now();
    for (let i = 0; i < inputs; i++) await board.publish(A, { n: i });
    await board.runUntilIdle();
    const ms = performance.now() - start;
    const done = Object.values(board.stats().agents).reduce((total, agent) => total + agent.done, 0);
    if (done !== inputs * 3) throw new Error(`expected ${inputs * 3} runs, got ${done}`);
    await board.shutdown();
    return { ms, counts };
  } finally {
    await store.close();
    await dropSchema(schema);
  }
}

const artifact = (id: string, type: string, n: number, producedBy: string, correlationId: string): Artifact => ({
  id,
  type,
  payload: { n },
  producedBy,
  correlationId,
  tags: [],
  visibility: { kind: 'public' },
  createdAt: new Date().toISOString(),
  causedBy: [],
});

/**
 * The same units without the board: per input a publish unit (artifact and its run); in waves, each
 * agent claims up to 8 runs (`claimLimit` at a time) and reads their inputs, then the wave's
 * completions go `perTransaction` to a `completeMany` (or `complete` for one).
 */
async function runUnits(inputs: number, claimLimit: number, perTransaction: number): Promise<number> {
  const schema = schemaName();
  const store = await PostgresStore.open({ connectionString: URL_!, schema, poolSize: 4 });
  const agents = ['first', 'second', 'third'];
  const types = ['A', 'B', 'C', 'D'];
  try {
    const start = performance.now();
    let published = 0;
    let done = 0;
    while (done < inputs * 3) {
      for (let i = 0; i < CONCURRENCY && published < inputs; i++, published++) {
        const input = artifact(`in-${published}`, 'A', published, 'external', `wf-${published}`);
        await store.publish({ writes: [{ artifact: input, runs: [{ id: `${input.id}>first`, agent: 'first', subscription: 0, inputIds: [input.id], correlationId: input.correlationId }], deposits: [] }], now: Date.now() });
      }
      const wave: CompletionItem[] = [];
      for (let step = 0; step < 3; step++) {
        let taken = 0;
        while (taken < CONCURRENCY) {
          const limit = Math.min(claimLimit, CONCURRENCY - taken);
          const runs = await store.claim({ owner: 'units', agents: [agents[step]!], limit, leaseMs: 60_000, now: Date.now() });
          for (const run of runs) {
            const [input] = await store.getArtifacts(run.inputIds);
            const n = (input!.payload as { n: number }).n;
            const output = artifact(`${run.id}#0`, types[step + 1]!, n + 1, agents[step]!, run.correlationId);
            const next = agents[step + 1];
            const outputs = [{ index: 0, artifact: output, runs: next === undefined ? [] : [{ id: `${output.id}>${next}`, agent: next, subscription: 0, inputIds: [output.id], correlationId: run.correlationId }], deposits: [] }];
            wave.push({ claim: { runId: run.id, owner: run.owner, attempt: run.attempt }, completion: { outcome: 'finished', outputs } });
          }
          taken += runs.length;
          if (runs.length < limit) break;
        }
      }
      for (let from = 0; from < wave.length; from += perTransaction) {
        const items = wave.slice(from, from + perTransaction);
        if (items.length === 1) {
          if ((await store.complete(items[0]!.claim, items[0]!.completion, Date.now())).status !== 'applied') throw new Error('claim lost');
        } else {
          for (const outcome of await store.completeMany(items, Date.now())) if (outcome.status !== 'fulfilled' || outcome.value.status !== 'applied') throw new Error('claim lost');
        }
      }
      done += wave.length;
    }
    return performance.now() - start;
  } finally {
    await store.close();
    await dropSchema(schema);
  }
}

const perSecond = (ms: number) => Math.round((RUNS * 1000) / ms);

export default URL_ === undefined
  ? []
  : [
      customSuite({
        name: 'one board on PostgreSQL: chain of three trivial agents, 8 runs at once per agent',
        description:
          `${INPUTS.toLocaleString('en-US')} artifacts published one by one through A -> B -> C -> D (${RUNS.toLocaleString('en-US')} runs) by one board in one process on PostgreSQL, ` +
          'beside the same store units called by hand without the board: a publish per input, claims and completion transactions of the sizes the board used (counted under it), and one completion per transaction; ' +
          'one round each after a warm-up, each on a new schema.',
        async run(): Promise<Figure[]> {
          await runBoard(100);
          const board = await runBoard(INPUTS);
          const claimLimit = Math.max(1, Math.round(board.counts.claimed / board.counts.claims));
          const perTransaction = Math.max(1, Math.round(board.counts.completions / board.counts.completionWrites));
          await runUnits(100, claimLimit, perTransaction);
          const units = await runUnits(INPUTS, claimLimit, perTransaction);
          const single = await runUnits(INPUTS, claimLimit, 1);
          const boardRate = perSecond(board.ms);
          const unitsRate = perSecond(units);
          return [
            { name: 'board on PostgreSQL', value: boardRate, unit: 'runs/s' },
            { name: 'store units by hand, same grouping, no board', value: unitsRate, unit: 'runs/s' },
            { name: 'store units by hand, one completion per transaction', value: perSecond(single), unit: 'runs/s' },
            { name: 'board / store units by hand', value: boardRate / unitsRate, unit: 'x' },
            { name: 'board: runs per claim', value: board.counts.claimed / board.counts.claims, unit: 'runs' },
            { name: 'board: completions per transaction', value: board.counts.completions / board.counts.completionWrites, unit: 'runs' },
          ];
        },
      }),
    ];
