/**
 * The PostgreSQL store with worker processes: the three-agent chain at 1, 2 and 4 workers (runs/s),
 * beside the raw SQL ceiling measured in the same run (the same claim + insert + complete transactions
 * on bare tables, without the store), and the NOTIFY wake-up latency from publish to run start.
 * Needs `SKEIN_BENCH_POSTGRES_URL` (or `SKEIN_TEST_POSTGRES_URL`); reports nothing without it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { artifactOf } from '../src/board/stores/postgres/fixtures/store-worker.js';
import { PostgresStore } from '../src/board/stores/postgres/index.js';
import { customSuite, type Figure } from './harness.js';
import { chain } from './postgres-chain.js';

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

/** Runs/s of the chain with `workers` worker processes. */
async function chainRunsPerSecond(workers: number): Promise<number> {
  const schema = `skein_bench_${process.pid}_${workers}`;
  const store = await PostgresStore.open({ connectionString: URL_!, schema, poolSize: 2 });
  const children = Array.from({ length: workers }, () =>
    spawn(process.execPath, ['--import', 'tsx', workerFile], { cwd: root, env: { ...process.env, BENCH_SCHEMA: schema, BENCH_URL: URL_ }, stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  try {
    await Promise.all(children.map((child) => new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))));
    const started = performance.now();
    for (let i = 0; i < INPUTS; i += 500) {
      const writes = [];
      for (let j = i; j < Math.min(i + 500, INPUTS); j++) {
        const artifact = artifactOf(`s${j}`, 'A', { j }, 'external', `wf${j % 100}`, []);
        writes.push({ artifact, ...chain.route(artifact) });
      }
      await store.publish({ writes, now: Date.now() });
    }
    for (;;) {
      const pending = await store.pending();
      if (pending.queued + pending.running === 0) break;
      await sleep(20);
    }
    return (3 * INPUTS) / ((performance.now() - started) / 1000);
  } finally {
    await Promise.all(children.map((child) => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    })));
    await store.close();
    await dropSchema(schema);
  }
}

/** The ceiling: the same transactions on bare tables, `lanes` connections in parallel, no store. */
async function rawRunsPerSecond(lanes: number): Promise<number> {
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
        try {
          for (;;) {
            const { rows } = await client.query(
              `with picked as (select id from ${s}.runs where state = 'queued' order by pos limit 16 for update skip locked)
               update ${s}.runs r set state = 'running', owner = $1, attempt = attempt + 1, lease = $2 from picked where r.id = picked.id returning r.id, r.agent, r.input, r.attempt`,
              [`raw${lane}`, Date.now() + 2000],
            );
            if (rows.length === 0) {
              const { rows: left } = await client.query(`select count(*)::int as n from ${s}.runs`);
              if ((left[0] as { n: number }).n === 0) return;
              await sleep(5);
              continue;
            }
            for (const run of rows as { id: string; agent: string; input: string; attempt: number }[]) {
              const out = `${run.id}:o0`;
              await client.query('begin');
              await client.query(`select 1 from ${s}.runs where id = $1 and owner = $2 and attempt = $3 for update`, [run.id, `raw${lane}`, run.attempt]);
              const agent = next[run.agent];
              await client.query(
                `with a as (insert into ${s}.artifacts (id, body) values ($1, '{}')), r as (insert into ${s}.runs (id, agent, input) select 'r' || $1, $2, $1 where $2::text is not null)
                 delete from ${s}.runs where id = $3`,
                [out, agent ?? null, run.id],
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

/** Milliseconds from the start of a publish to an idle worker's claim of the run it queued, `samples` times. */
async function wakeUpLatencies(samples: number): Promise<number[]> {
  const schema = `skein_bench_wake_${process.pid}`;
  const worker = await PostgresStore.open({ connectionString: URL_!, schema, poolSize: 2 });
  const publisher = await PostgresStore.open({ connectionString: URL_!, schema, poolSize: 1 });
  try {
    let woken: (() => void) | undefined;
    await worker.onNotice(() => woken?.());
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const heard = new Promise<void>((resolve) => (woken = resolve));
      const artifact = artifactOf(`w${i}`, 'A', { i }, 'external', 'wf', []);
      const started = performance.now();
      await publisher.publish({ writes: [{ artifact, ...chain.route(artifact) }], now: Date.now() });
      await heard;
      const claimed = await worker.claim({ owner: 'w', agents: ['a'], limit: 1, leaseMs: 1000, now: Date.now() });
      latencies.push(performance.now() - started);
      await worker.complete({ runId: claimed[0]!.id, owner: 'w', attempt: 1 }, { outcome: 'finished', outputs: [] }, Date.now());
    }
    return latencies.sort((a, b) => a - b);
  } finally {
    await worker.close();
    await publisher.close();
    await dropSchema(schema);
  }
}

export default [
  customSuite({
    name: 'PostgreSQL: three-agent chain across worker processes',
    description: `${INPUTS} inputs through a -> b -> c (${3 * INPUTS} runs), claims of 16; the raw ceiling runs the same transactions on bare tables over 4 connections`,
    async run(): Promise<Figure[]> {
      if (URL_ === undefined) return [];
      const figures: Figure[] = [];
      for (const workers of [1, 2, 4]) figures.push({ name: `skein, ${workers} worker process${workers > 1 ? 'es' : ''}`, value: await chainRunsPerSecond(workers), unit: 'runs/s' });
      figures.push({ name: 'raw SQL ceiling, 4 connections', value: await rawRunsPerSecond(4), unit: 'runs/s' });
      const wake = await wakeUpLatencies(200);
      figures.push({ name: 'NOTIFY wake-up p50 (publish to claim)', value: wake[Math.floor(wake.length * 0.5)]!, unit: 'ms' });
      figures.push({ name: 'NOTIFY wake-up p99 (publish to claim)', value: wake[Math.floor(wake.length * 0.99)]!, unit: 'ms' });
      return figures;
    },
  }),
];
