/**
 * The crash test: a board with a chain, a streaming agent, a batch, a join and a retrying agent runs
 * on a SQLite file in child processes killed with SIGKILL at random moments (20 kills, a few of them
 * during start-up), a new process resuming (`board.resume()`) after each; what the file holds at the
 * end equals an uninterrupted run of the same board on the memory store exactly. `npx tsx bench/sqlite-crash.ts` runs the 200-kill version.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Board } from '../../index.js';
import { declareCrashAgents, outcome, publishOrders } from './fixtures/crash-board.js';
import { bundleWorker, crashRun } from './fixtures/crash-run.js';
import { openDriver } from './open-driver.js';
import { SqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'skein-crash-'));
let worker: string | undefined;
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (worker !== undefined) rmSync(worker, { force: true });
});

const ORDERS = 100;

/** The outcome of the same board on the memory store, never killed, and how many runs it took. */
async function uninterrupted(orders: number): Promise<{ expected: string[]; runs: number }> {
  await using board = new Board();
  declareCrashAgents(board, 0);
  await publishOrders(board, orders);
  await board.runUntilIdle();
  const runs = Object.values(board.stats().agents).reduce((total, agent) => total + agent.done + agent.failed, 0);
  return { expected: await outcome(board.store), runs };
}

describe('a board on SQLite killed with SIGKILL at random moments', () => {
  it('ends with exactly the outputs of an uninterrupted run: none lost, none applied twice, every dead letter there', async () => {
    const { expected, runs } = await uninterrupted(ORDERS);
    expect(expected.filter((line) => line.startsWith('dead letter'))).toHaveLength(Math.ceil(ORDERS / 7));

    worker = await bundleWorker();
    const path = join(dir, 'crash.db');
    const report = await crashRun(worker, { path, orders: ORDERS, paceMs: 2, kills: 20, maxKillDelayMs: 150, startupKillEvery: 5, runs });
    expect(report.kills).toBe(20);
    expect(report.reruns).toBeGreaterThan(0);

    using store = new SqliteStore({ path });
    expect(await outcome(store)).toEqual(expected);
    const db = openDriver({ path });
    expect(db.prepare('PRAGMA integrity_check').get()?.integrity_check).toBe('ok');
    db.close();
    console.log(`crash test: ${report.kills} kills (${report.startupKills} during start-up), ${report.processes} processes, ${report.reruns} runs run again, ${report.duplicatesSkipped} outputs skipped as already applied, ${report.elapsedMs} ms`);
  }, 120_000);
});
