/**
 * The board on PostgreSQL with worker processes, each a `Board` in shared mode: the three-agent chain at 1, 2 and 4 workers (runs/s),
 * beside the raw SQL ceiling measured in the same run (the same claim + insert + complete transactions
 * on bare tables, without the store), and the NOTIFY wake-up latency from publish to run start.
 * Needs `SKEIN_BENCH_POSTGRES_URL` (or `SKEIN_TEST_POSTGRES_URL`); reports nothing without it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Board } from '../src/board/index.js';
import { PostgresStore } from '../src/board/stores/postgres/index.js';
import { customSuite, type Figure } from './harness.js';
import { A, CONCURRENCY, declareChain } from './postgres-chain.js';

const URL_ = process.env.SKEIN_BENCH_POSTGRES_URL ?? process.env.SKEIN_TEST_POSTGRES_URL;
const INPUTS = Number(process.env.SKEIN_BENCH_POSTGRES_INPUTS ?? 2_000);
const root = fileURLToPath(new URL('..', import.meta.url));
const workerFile = fileURLToPath(new URL('./postgres-chain.ts', import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: URL_ });
  await client.connect();
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.end();
}

function spawnWorkers(count: number, schema: string, extraEnv: Record<string, string> = {}): ChildProcess[] {
  return Array.from({ length: count }, () =>
    spawn(process.execPath, ['--import', 'tsx', workerFile], { cwd: root, env: { ...process.env, BENCH_SCHEMA: schema, BENCH_URL: URL_, ...extraEnv }, stdio: ['ignore', 'pipe', 'inherit'] }),
  );
}

async function stopWorkers(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

const WORKFLOWS = 10;

/** Inputs of the warm-up pass each set of workers runs before the timed one (0: none). */
const WARMUP = Number(process.env.SKEIN_BENCH_POSTGRES_WARMUP ?? INPUTS);

interface Pass {
  readonly runsPerSecond: number;
  readonly statementsPerRun: number;
  readonly cpuUsPerRun: number;
}

/** What a worker reported: the statements it sent and the CPU it used since it was ready. */
interface Used {
  readonly statements: number;
  readonly cpuUs: number;
}

/**
 * The chain with `workers` worker processes, each a `Board` in shared mode, in two passes: a warm-up
 * (`WARMUP` inputs) and the timed pass (`INPUTS`). Every input is published first, into paused
 * workflows, by a `work: false` board, so that no publish reaches the workers while they run; each
 * pass's clock runs from the resume of its workflows (every worker ready) until the store has no run
 * left. The warm-up pass is what the workers' first seconds cost (code not yet optimised by V8: a
 * worker's CPU per run in it is about twice what it is after), which a long-lived worker pays once;
 * the raw ceiling's client code runs warm in this process.
 */
async function chainRunsPerSecond(workers: number): Promise<{ cold: Pass | undefined; warm: Pass }> {
  const schema = `skein_bench_${process.pid}_${workers}`;
  const store = await PostgresStore.open({ connectionString: URL_!, schema, poolSize: 4 });
  const publisher = new Board({ store, shared: true, work: false });
  declareChain(publisher);
  const probe = new pg.Client({ connectionString: URL_ });
  await probe.connect();
  let children: ChildProcess[] = [];
  try {
    const passes = WARMUP > 0 ? [{ prefix: 'warm', inputs: WARMUP }, { prefix: 'wf', inputs: INPUTS }] : [{ prefix: 'wf', inputs: INPUTS }];
    for (const { prefix, inputs } of passes) {
      for (let w = 0; w < WORKFLOWS; w++) await publisher.workflow(`${prefix}${w}`).pause();
      for (let i = 0; i < inputs; i++) await publisher.publish(A, { j: i }, { correlationId: `${prefix}${i % WORKFLOWS}` });
    }
    children = spawnWorkers(workers, schema);
    const reports = children.map((child) => {
      const lines = createInterface({ input: child.stdout! });
      const ready = new Promise<void>((resolve) => lines.once('line', () => resolve()));
      let onMark: (used: Used) => void = () => {};
      const marked = new Promise<Used>((resolve) => (onMark = resolve));
      const reported = new Promise<Used>((resolve) =>
        lines.on('line', (line) => {
          if (line.startsWith('mark ')) onMark(JSON.parse(line.slice(5)) as Used);
          else if (line.startsWith('stats ')) resolve(JSON.parse(line.slice(6)) as Used);
        }),
      );
      return { child, ready, marked, reported };
    });
    await Promise.all(reports.map((each) => each.ready));
    const sum = (used: readonly Used[], key: keyof Used) => used.reduce((total, each) => total + each[key], 0);
    const results: Pass[] = [];
    let before: Used[] = reports.map(() => ({ statements: 0, cpuUs: 0 }));
    for (const { prefix, inputs } of passes) {
      const started = performance.now();
      for (let w = 0; w < WORKFLOWS; w++) await publisher.workflow(`${prefix}${w}`).resume();
      // The end: no run of the pass left in the store (what `store.pending()` would answer as nothing
      // queued, paused or running, here where runs only queue and run), asked with a statement that
      // costs the database little: it shares the machine's two cores with the workers.
      const ids = Array.from({ length: WORKFLOWS }, (_, w) => `${prefix}${w}`);
      for (;;) {
        const { rows } = await probe.query(`select exists (select 1 from "${schema}".runs where correlation_id = any($1::text[])) as busy`, [ids]);
        if (!(rows[0] as { busy: boolean }).busy) break;
        await sleep(10);
      }
      const runsPerSecond = (3 * inputs) / ((performance.now() - started) / 1000);
      const last = prefix === 'wf';
      let after: Used[];
      if (last) {
        await stopWorkers(children);
        after = await Promise.all(reports.map((each) => each.reported));
      } else {
        for (const each of reports) each.child.kill('SIGUSR2');
        after = await Promise.all(reports.map((each) => each.marked));
      }
      const runs = 3 * inputs;
      results.push({ runsPerSecond, statementsPerRun: (sum(after, 'statements') - sum(before, 'statements')) / runs, cpuUsPerRun: (sum(after, 'cpuUs') - sum(before, 'cpuUs')) / runs });
      before = after;
    }
    return { cold: results.length > 1 ? results[0] : undefined, warm: results[results.length - 1]! };
  } finally {
    await stopWorkers(children);
    await probe.end();
    await publisher.shutdown(); // closes its store
    await dropSchema(schema);
  }
}

/**
 * The ceiling: the same transactions on bare tables, `lanes` connections in parallel, no store. Each
 * lane claims up to 16 runs in one statement, then either ends each run in a transaction of its own
 * (`begin`, guard, insert-and-delete, `commit`: the unbatched ceiling) or, with `batched`, all the runs
 * of its claim in one such transaction, the statements set-based (what the board's grouped
 * completions do).
 */
async function rawRunsPerSecond(lanes: number, batched: boolean): Promise<number> {
  const schema = `skein_bench_raw_${process.pid}`;
  const pool = new pg.Pool({ connectionString: URL_, max: lanes + 1 });
  const s = `"${schema}"`;
  await pool.query(`create schema ${s}`);
  await pool.query(`create table ${s}.artifacts (seq bigserial primary key, id text unique not null, body json not null)`);
  await pool.query(`create table ${s}.runs (id text primary key, agent text not null, input text not null, state text not null default 'queued', owner text, attempt int not null default 0, lease bigint, pos bigserial)`);
  await pool.query(`create index on ${s}.runs (pos) where state = 'queued'`);
  try {
    const next: Record<string, string | undefined> = { a: 'b', b: 'c' };
    const ids = Array.from({ length: INPUTS }, (_, i) => `s${i}`);
    await pool.query(`insert into ${s}.artifacts (id, body) select id, '{}' from unnest($1::text[]) id`, [ids]);
    const started = performance.now();
    await pool.query(`insert into ${s}.runs (id, agent, input) select 'r' || id, 'a', id from unnest($1::text[]) id`, [ids]);
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        const client = await pool.connect();
        const owner = `raw${lane}`;
        try {
          for (;;) {
            const { rows } = await client.query(
              `with picked as (select id from ${s}.runs where state = 'queued' order by pos limit 16 for update skip locked)
               update ${s}.runs r set state = 'running', owner = $1, attempt = attempt + 1, lease = $2 from picked where r.id = picked.id returning r.id, r.agent, r.input, r.attempt`,
              [owner, Date.now() + 2000],
            );
            if (rows.length === 0) {
              const { rows: left } = await client.query(`select count(*)::int as n from ${s}.runs`);
              if ((left[0] as { n: number }).n === 0) return;
              await sleep(5);
              continue;
            }
            const runs = rows as { id: string; agent: string; input: string; attempt: number }[];
            for (const group of batched ? [runs] : runs.map((run) => [run])) {
              await client.query('begin');
              await client.query(`select r.id from ${s}.runs r join unnest($1::text[], $2::int[]) as c(id, attempt) on r.id = c.id and r.attempt = c.attempt where r.owner = $3 order by r.id for update of r`, [
                group.map((run) => run.id),
                group.map((run) => run.attempt),
                owner,
              ]);
              const outs = group.map((run) => `${run.id}:o0`);
              await client.query(
                `with a as (insert into ${s}.artifacts (id, body) select id, '{}' from unnest($1::text[]) id),
                      r as (insert into ${s}.runs (id, agent, input) select 'r' || o, n, o from unnest($1::text[], $2::text[]) as t(o, n) where n is not null)
                 delete from ${s}.runs where id = any($3::text[])`,
                [outs, group.map((run) => next[run.agent] ?? null), group.map((run) => run.id)],
              );
              await client.query('commit');
            }
          }
        } finally {
          client.release();
        }
      }),
    );
    return (3 * INPUTS) / ((performance.now() - started) / 1000);
  } finally {
    await pool.query(`drop schema ${s} cascade`);
    await pool.end();
  }
}

/**
 * Milliseconds from the start of a publish (a `work: false` board) to the start of the run it queued
 * on an idle worker process (a shared-mode board woken by NOTIFY; it polls only every 200 ms), `samples` times.
 */
async function wakeUpLatencies(samples: number): Promise<number[]> {
  const schema = `skein_bench_wake_${process.pid}`;
  const store = await PostgresStore.open({ connectionString: URL_!, schema, poolSize: 2 });
  const publisher = new Board({ store, shared: { pollMs: 20 }, work: false });
  declareChain(publisher);
  const [child] = spawnWorkers(1, schema, { BENCH_REPORT_STARTS: '1' });
  try {
    const lines = createInterface({ input: child!.stdout! });
    let onStart: ((at: number) => void) | undefined;
    let readySeen: () => void = () => {};
    const ready = new Promise<void>((resolve) => (readySeen = resolve));
    lines.on('line', (line) => {
      if (line === 'ready') readySeen();
      else if (line.startsWith('start ')) onStart?.(Number(line.slice(6)));
    });
    await ready;
    await sleep(500); // the worker's listener is connected
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const started = new Promise<number>((resolve) => (onStart = resolve));
      const publishedAt = performance.timeOrigin + performance.now();
      await publisher.publish(A, { j: i }, { correlationId: `wake${i}` });
      latencies.push((await started) - publishedAt);
      await publisher.workflow(`wake${i}`).done(); // the worker idle again before the next sample
    }
    return latencies.sort((a, b) => a - b);
  } finally {
    await stopWorkers(child === undefined ? [] : [child]);
    await publisher.shutdown();
    await dropSchema(schema);
  }
}

export default [
  customSuite({
    name: 'PostgreSQL: three-agent chain across worker processes (boards in shared mode)',
    description: `${INPUTS} inputs through a -> b -> c (${3 * INPUTS} runs) after a warm-up pass of ${WARMUP} inputs on the same workers, each worker process a Board({ shared: true }) with ${CONCURRENCY} runs per agent at once (claims batched up to that); the raw ceilings run the same claim + insert + complete transactions on bare tables over 4 connections, no board, one run per transaction and a claim of 16 per transaction (the board's batching); wake-up: publish on one board to run start on an idle worker`,
    async run(): Promise<Figure[]> {
      if (URL_ === undefined) return [];
      const figures: Figure[] = [];
      for (const workers of [1, 2, 4]) {
        const name = `skein, ${workers} worker process${workers > 1 ? 'es' : ''}`;
        const { cold, warm } = await chainRunsPerSecond(workers);
        figures.push({ name, value: warm.runsPerSecond, unit: 'runs/s' });
        figures.push({ name: `${name}: statements per run`, value: warm.statementsPerRun, unit: 'statements' });
        figures.push({ name: `${name}: worker CPU per run`, value: warm.cpuUsPerRun, unit: 'us' });
        if (cold === undefined) continue;
        figures.push({ name: `${name}, warm-up pass (new processes)`, value: cold.runsPerSecond, unit: 'runs/s' });
        figures.push({ name: `${name}, warm-up pass: worker CPU per run`, value: cold.cpuUsPerRun, unit: 'us' });
      }
      figures.push({ name: 'raw SQL ceiling, 4 connections, one run per transaction', value: await rawRunsPerSecond(4, false), unit: 'runs/s' });
      figures.push({ name: 'raw SQL ceiling, 4 connections, a claim of 16 ended in one transaction', value: await rawRunsPerSecond(4, true), unit: 'runs/s' });
      const wake = await wakeUpLatencies(100);
      figures.push({ name: 'NOTIFY wake-up p50 (publish to run start)', value: wake[Math.floor(wake.length * 0.5)]!, unit: 'ms' });
      figures.push({ name: 'NOTIFY wake-up p99 (publish to run start)', value: wake[Math.floor(wake.length * 0.99)]!, unit: 'ms' });
      return figures;
    },
  }),
];
