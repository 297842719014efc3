/**
 * The board on SQLite: the three-agent chain on a SQLite file (WAL, synchronous NORMAL, libsql)
 * beside the same chain on the memory store, and beside the raw driver running the same
 * transactions without the board (what the store cannot go below), in one run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { Board, MemoryStore, artifactType, type BoardStore } from 'skein/board';
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

/** The chain A -> B -> C -> D on `store`, `count` artifacts published one by one; the elapsed ms. */
async function runChain(store: BoardStore, count: number): Promise<number> {
  const board = new Board({ store });
  board.agent('first').consumes(A).publishes(B).handle(([a]) => ({ n: a.payload.n + 1 }));
  board.agent('second').consumes(B).publishes(C).handle(([b]) => ({ n: b.payload.n + 1 }));
  board.agent('third').consumes(C).publishes(D).handle(([c]) => ({ n: c.payload.n + 1 }));
  const start = performance.now();
  for (let i = 0; i < count; i++) await board.publish(A, { n: i });
  await board.runUntilIdle();
  const elapsed = performance.now() - start;
  const done = Object.values(board.stats().agents).reduce((total, agent) => total + agent.done, 0);
  if (done !== count * 3) throw new Error(`expected ${count * 3} runs, got ${done}`);
  await board.shutdown();
  return elapsed;
}

/**
 * The same transactions with the raw driver and no board: the store's own schema and statements,
 * run by hand. Per input, a publish unit (workflow check, artifact, run counter, run); per run, a
 * claim (one UPDATE), a read of its input, and a completion unit (claim check, output artifact, run
 * counter, next run, run deleted), each write unit one BEGIN IMMEDIATE transaction.
 */
function runRaw(path: string, count: number): number {
  const db = openDriver({ path });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  migrate(db);
  const agents = ['first', 'second', 'third'];
  const types = ['A', 'B', 'C', 'D'];
  const write = (id: string, type: string, n: number, producedBy: string, correlationId: string, next: string | undefined) => {
    const artifact = { id, type, payload: { n }, producedBy, correlationId, tags: [], visibility: { kind: 'public' }, createdAt: new Date().toISOString(), causedBy: [] };
    db.prepare(SQL.insertArtifact).run([id, type, correlationId, producedBy, artifact.createdAt, JSON.stringify(artifact)]);
    if (next === undefined) return;
    if (db.prepare(SQL.countRun).get([correlationId, next, 10_000]) === undefined) throw new Error('run limit');
    db.prepare(SQL.insertRun).run([`${id}>${next}`, next, 0, JSON.stringify([id]), correlationId, Date.now(), null]);
  };
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    db.transaction(() => {
      if (db.prepare(SQL.workflowState).get([`wf-${i}`]) !== undefined) throw new Error('workflow not active');
      write(`in-${i}`, 'A', i, 'external', `wf-${i}`, 'first');
    });
    for (let step = 0; step < 3; step++) {
      const run = db.prepare(SQL.claimRuns).all(['raw', Date.now() + 60_000, JSON.stringify([agents[step]]), 1])[0]!;
      const [inputId] = JSON.parse(run.input_ids as string) as [string];
      const [input] = db.prepare(SQL.artifactsById).all([JSON.stringify([inputId])]);
      const { n } = (JSON.parse(input!.body as string) as { payload: { n: number } }).payload;
      db.transaction(() => {
        const held = db.prepare(SQL.heldRun).get([run.id as string, 'raw', run.attempt as number]);
        if (held === undefined || held.workflow_state !== null) throw new Error('claim lost');
        write(`${run.id as string}#0`, types[step + 1]!, n + 1, agents[step]!, run.correlation_id as string, agents[step + 1]);
        db.prepare(SQL.deleteRun).run([run.seq as number]);
      });
    }
  }
  const elapsed = performance.now() - start;
  db.close();
  return elapsed;
}

export default [
  customSuite({
    name: 'board on SQLite: chain of three trivial agents',
    description:
      `${ARTIFACTS.toLocaleString('en-US')} artifacts published one by one through A -> B -> C -> D (${RUNS.toLocaleString('en-US')} runs): ` +
      'on a SQLite file (libsql, WAL, synchronous NORMAL), on the memory store, and with the raw driver running the same transactions without the board; median of 3 rounds after a warm-up, each on a new file.',
    async run(): Promise<Figure[]> {
      const dir = mkdtempSync(join(tmpdir(), 'skein-bench-sqlite-'));
      let files = 0;
      const file = () => join(dir, `chain-${++files}.db`);
      try {
        await runChain(new SqliteStore({ path: file() }), 300);
        await runChain(new MemoryStore(), 300);
        runRaw(file(), 300);
        const sqlite: number[] = [];
        const memory: number[] = [];
        const raw: number[] = [];
        for (let round = 0; round < 3; round++) {
          sqlite.push(await runChain(new SqliteStore({ path: file() }), ARTIFACTS));
          memory.push(await runChain(new MemoryStore(), ARTIFACTS));
          raw.push(runRaw(file(), ARTIFACTS));
        }
        const perSecond = (ms: number) => Math.round((RUNS * 1000) / ms);
        const sqliteRate = perSecond(median(sqlite));
        const memoryRate = perSecond(median(memory));
        const rawRate = perSecond(median(raw));
        return [
          { name: 'board on SQLite', value: sqliteRate, unit: 'runs/s' },
          { name: 'board on the memory store', value: memoryRate, unit: 'runs/s' },
          { name: 'raw driver, same transactions, no board', value: rawRate, unit: 'runs/s' },
          { name: 'SQLite board / raw driver', value: sqliteRate / rawRate, unit: 'x' },
          { name: 'SQLite board / memory board', value: sqliteRate / memoryRate, unit: 'x' },
        ];
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  }),
];
