/**
 * The three-agent chain (A -> a -> B -> b -> C -> c) for the PostgreSQL bench: the board's agents,
 * and, run as a script, one worker process (`BENCH_SCHEMA`, `BENCH_URL`): a real
 * `Board({ store: PostgresStore, shared: true })` that works until SIGTERM. It prints `ready` once
 * its agents are declared, and `start <epoch ms with fraction>` when a run of agent `a` starts (for
 * the wake-up latency), if `BENCH_REPORT_STARTS` is set; at SIGUSR2, `mark {statements, cpuUs}`, and at
 * SIGTERM, `stats {statements, cpuUs}`: the statements it sent and the CPU it used since `ready`.
 */
import pg from 'pg';
import { z } from 'zod';
import { Board, artifactType } from '../src/board/index.js';
import { PostgresStore } from '../src/board/stores/postgres/index.js';

export const A = artifactType('A', z.object({ j: z.number() }));
const B = artifactType('B', z.object({ j: z.number() }));
const C = artifactType('C', z.object({ j: z.number() }));

/** Runs each agent may have at once on one worker. */
export const CONCURRENCY = 16;

/** Declares the chain's agents (a publisher declares them too, to route what it publishes). */
export function declareChain(board: Board, onStart?: () => void): void {
  board.agent('a').consumes(A).publishes(B).maxConcurrency(CONCURRENCY).handle(([x]) => {
    onStart?.();
    return { j: x.payload.j };
  });
  board.agent('b').consumes(B).publishes(C).maxConcurrency(CONCURRENCY).handle(([x]) => ({ j: x.payload.j }));
  board.agent('c').consumes(C).maxConcurrency(CONCURRENCY).handle(() => {});
}

if (process.env.BENCH_SCHEMA !== undefined && process.argv[1]?.endsWith('postgres-chain.ts')) {
  // The statements this worker sends (every round trip to PostgreSQL), counted on the driver's client.
  let statements = 0;
  const query = Reflect.get(pg.Client.prototype, 'query') as (...args: unknown[]) => unknown;
  Reflect.set(pg.Client.prototype, 'query', function (this: pg.Client, ...args: unknown[]) {
    statements++;
    return query.apply(this, args);
  });
  const store = await PostgresStore.open({ connectionString: process.env.BENCH_URL!, schema: process.env.BENCH_SCHEMA, poolSize: 4, skipMigrations: true });
  const board = new Board({ store, shared: { pollMs: 200 } });
  const report = process.env.BENCH_REPORT_STARTS !== undefined;
  declareChain(board, report ? () => process.stdout.write(`start ${performance.timeOrigin + performance.now()}\n`) : undefined);
  const cpuAtReady = process.cpuUsage();
  const used = () => {
    const cpu = process.cpuUsage(cpuAtReady);
    return JSON.stringify({ statements, cpuUs: cpu.user + cpu.system });
  };
  // The figures so far, when the bench marks the end of the warm-up pass.
  process.on('SIGUSR2', () => process.stdout.write(`mark ${used()}\n`));
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  process.stdout.write(`stats ${used()}\n`);
  await board.shutdown();
  process.exit(0);
}
