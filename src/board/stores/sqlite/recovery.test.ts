/**
 * Recovery on a real crash: a board on a SQLite file is killed with SIGKILL in a child process once
 * it has work of every kind pending; each test resumes a copy of the file it left, on a new board
 * whose clock starts at the instant of the crash (fake timers), and checks one kind of work.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Board } from '../../index.js';
import { bundleFixture } from './fixtures/bundle.js';
import { BATCH_TIMEOUT_MS, JOIN_WITHIN_MS, Shipment, declareAgents } from './fixtures/recovery-board.js';
import { SqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'skein-recovery-'));
const crashed = join(dir, 'crashed.db');
let child: string | undefined;
let crashedAt = 0;
let copies = 0;

beforeAll(async () => {
  child = await bundleFixture('recovery-child');
  const process_ = spawn(process.execPath, [child, crashed], { stdio: ['ignore', 'pipe', 'inherit'] });
  const closed = new Promise((resolve) => process_.once('close', resolve));
  crashedAt = await new Promise<number>((resolve, reject) => {
    process_.once('error', reject);
    process_.once('close', (code) => reject(new Error(`the crashing board exited with ${code} before reaching its state`)));
    createInterface({ input: process_.stdout }).on('line', (line) => {
      if (line.startsWith('crashed-state ')) resolve(Number(line.slice('crashed-state '.length)));
    });
  });
  process_.kill('SIGKILL');
  await closed;
  await new Promise((resolve) => setTimeout(resolve, 20)); // the process handle closes a turn after 'close'
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (child !== undefined) rmSync(child, { force: true });
});

/** A copy of the crashed file (with its WAL, as the dead process left it), a store on it and a board resumed on it. */
async function resumed() {
  const path = join(dir, `copy-${++copies}.db`);
  for (const suffix of ['', '-wal']) if (existsSync(crashed + suffix)) copyFileSync(crashed + suffix, path + suffix);
  vi.useFakeTimers({ now: crashedAt });
  const store = new SqliteStore({ path });
  const gatesBefore = store.listGates();
  const board = new Board({ store });
  const log = declareAgents(board, { breakerFails: false });
  const found = await board.resume();
  return { store, board, log, found, gatesBefore };
}

/** Lets the join expire and everything run, so that the board goes idle. */
async function finish(board: Board): Promise<void> {
  await vi.advanceTimersByTimeAsync(JOIN_WITHIN_MS);
  await board.runUntilIdle();
}

describe('a board resumed on the SQLite file of a board killed with SIGKILL', () => {
  it('runs again the run that was running, as a new attempt', async () => {
    const { board, log, found } = await resumed();
    await using _ = board;
    expect(found.requeued).toBe(1);
    await finish(board);
    expect(log.jobs).toContain(1);
  });

  it('runs the runs that were queued, in their order, after the one that was running', async () => {
    const { board, log } = await resumed();
    await using _ = board;
    await finish(board);
    expect(log.jobs).toEqual([1, 2, 3]);
  });

  it('flushes a waiting batch at its original deadline, not a new one', async () => {
    const { board, log, gatesBefore } = await resumed();
    await using _ = board;
    const batch = gatesBefore.find((gate) => gate.agent === 'batcher')!;
    expect(batch.deadline).toBeGreaterThan(crashedAt - BATCH_TIMEOUT_MS);
    expect(batch.deadline).toBeLessThanOrEqual(crashedAt + BATCH_TIMEOUT_MS);
    await vi.advanceTimersByTimeAsync(Math.max(0, batch.deadline! - Date.now() - 1));
    expect(log.batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(log.batches).toEqual([['a', 'b']]));
    await finish(board);
  });

  it('keeps a waiting join, with its deadline, and completes it when the other side arrives', async () => {
    const { store, board, log, gatesBefore } = await resumed();
    await using _ = board;
    const join = gatesBefore.find((gate) => gate.agent === 'matcher')!;
    expect(store.listGates().find((gate) => gate.agent === 'matcher')?.deadline).toBe(join.deadline);
    await board.publish(Shipment, { orderId: 'o-1' }, { correlationId: 'shipping' });
    await finish(board);
    expect(log.matches).toEqual([['Order', 'Shipment', 'o-1']]);
  });

  it('keeps a paused workflow paused, its queued run waiting until it is resumed', async () => {
    const { board, log } = await resumed();
    await using _ = board;
    expect(board.workflow('paused-wf').state).toBe('paused');
    await finish(board);
    expect(log.jobs).not.toContain(4);
    await board.workflow('paused-wf').resume();
    await board.runUntilIdle();
    expect(log.jobs).toContain(4);
  });

  it('keeps the dead letter of a run that failed for good, replayable', async () => {
    const { store, board, log } = await resumed();
    await using _ = board;
    const [letter, ...others] = await board.deadLetters();
    expect(others).toEqual([]);
    expect([letter?.run.agent, letter?.error.message]).toEqual(['breaker', 'fragile 7 broke']);
    expect(store.list({ type: 'AgentFailed' })).toHaveLength(1);
    await board.replayDeadLetter(letter!.id);
    await finish(board);
    expect(log.fragile).toEqual([7]);
    expect(await board.deadLetters()).toEqual([]);
  });
});
