import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { TimeoutError } from 'skein';
import { Board, MemoryStore, WorkflowFailedError, artifactType, type BoardStore } from 'skein/board';
import { SqliteStore } from 'skein/board/sqlite';
import { gate } from '../../test/helpers.js';

const Order = artifactType('Order', z.object({ sku: z.string(), qty: z.number() }));
const Invoice = artifactType('Invoice', z.object({ total: z.number() }));
const Receipt = artifactType('Receipt', z.object({ text: z.string() }));

const dir = mkdtempSync(join(tmpdir(), 'skein-app-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Waits (turn by turn of the event loop, never on a clock) until `test` holds: for state no board event announces. */
async function until(test: () => boolean): Promise<void> {
  for (let turn = 0; !test(); turn++) {
    if (turn > 100_000) throw new Error('never held');
    await new Promise((resolve) => setImmediate(resolve));
  }
}


function billing(board: Board, options: { fail?: (sku: string) => boolean; before?: (signal: AbortSignal) => Promise<void> } = {}): void {
  board
    .agent('billing')
    .consumes(Order)
    .publishes(Invoice)
    .maxConcurrency(1_000)
    .handle(async ([order], ctx) => {
      await options.before?.(ctx.signal);
      if (options.fail?.(order.payload.sku) === true) throw new Error(`no price for ${order.payload.sku}`);
      return { total: order.payload.qty * 10 };
    });
  board.agent('printer').consumes(Invoice).publishes(Receipt).handle(([invoice]) => ({ text: `paid ${invoice.payload.total}` }));
}

describe('board.start and run.result', () => {
  it('resolves with one artifact per required type, in the order asked', async () => {
    await using board = new Board();
    billing(board);
    const run = await board.start(Order, { sku: 'a', qty: 2 }, { id: 'order-1', requires: [Receipt, Invoice] });
    expect(run).toMatchObject({ id: 'order-1', created: true });
    expect(run.input).toMatchObject({ type: 'Order', correlationId: 'order-1', payload: { sku: 'a', qty: 2 } });
    const [receipt, invoice] = await run.result({ timeoutMs: 10_000 });
    expect(receipt.payload.text).toBe('paid 20');
    expect(invoice.payload.total).toBe(20);
    expect(run.workflow.id).toBe('order-1');
  });

  it('rejects with the failure facts when a required output is missing', async () => {
    await using board = new Board();
    billing(board, { fail: (sku) => sku === 'unknown' });
    const run = await board.start(Order, { sku: 'unknown', qty: 1 }, { requires: [Receipt] });
    const error = await run.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failed = error as WorkflowFailedError;
    expect(failed.id).toBe(run.id);
    expect(failed.missing).toEqual(['Receipt']);
    expect(failed.facts.map((f) => f.type)).toEqual(['AgentFailed']);
    expect(failed.message).toMatch(/ended without Receipt: agent 'billing' failed: no price for unknown/);
    expect((failed.facts[0]!.payload as { attempts: number }).attempts).toBe(1);
  });

  it('requiring nothing, resolves with [] when the workflow had no failure, rejects when it had one', async () => {
    await using board = new Board();
    billing(board, { fail: (sku) => sku === 'bad' });
    expect(await (await board.start(Order, { sku: 'ok', qty: 1 })).result()).toEqual([]);
    await expect((await board.start(Order, { sku: 'bad', qty: 1 })).result()).rejects.toMatchObject({ name: 'WorkflowFailedError', missing: [] });
  });

  it('resolves as soon as the required outputs exist, while the workflow goes on; later outputs change nothing', async () => {
    await using board = new Board();
    const held = gate();
    board.agent('billing').consumes(Order).publishes(Invoice).handle(([order]) => ({ total: order.payload.qty }));
    board
      .agent('archiver')
      .consumes(Invoice)
      .publishes(Invoice)
      .handle(async ([invoice], ctx) => {
        await held.wait(ctx.signal);
        return { total: invoice.payload.total + 1 };
      });
    const run = await board.start(Order, { sku: 'a', qty: 5 }, { id: 'early', requires: [Invoice] });
    const [invoice] = await run.result({ timeoutMs: 10_000 });
    expect(invoice.payload.total).toBe(5);
    expect(await run.status()).toBe('completed');
    expect(board.stats().agents.archiver?.running).toBe(1); // still working
    held.open();
    await run.workflow.done();
    expect((await board.store.list({ type: Invoice, correlationId: 'early' })).map((i) => i.payload.total)).toEqual([5, 6]);
    const [again] = await run.result();
    expect(again.id).toBe(invoice.id); // the first of its type, as before
  });

  it('status() says what became of a workflow: running, paused, completed, failed, cancelled', async () => {
    await using board = new Board();
    const held = gate();
    billing(board, { fail: (sku) => sku === 'bad', before: (signal) => held.wait(signal) });
    const ok = await board.start(Order, { sku: 'ok', qty: 1 }, { requires: [Receipt] });
    const bad = await board.start(Order, { sku: 'bad', qty: 1 }, { requires: [Receipt] });
    const cancelled = await board.start(Order, { sku: 'c', qty: 1 }, { requires: [Receipt] });
    const paused = await board.start(Order, { sku: 'p', qty: 1 });
    await until(() => board.stats().agents.billing?.running === 4);
    await paused.workflow.pause();
    expect(await ok.status()).toBe('running');
    expect(await paused.status()).toBe('paused'); // with work left (its running run finishes)
    await cancelled.cancel();
    expect(await cancelled.status()).toBe('cancelled');
    held.open();
    await ok.result();
    await expect(bad.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(await ok.status()).toBe('completed');
    expect(await bad.status()).toBe('failed');
    await paused.workflow.resume();
    await paused.result();
    expect(await paused.status()).toBe('completed');
  });

  it('board.workflowRun(id) finds a started workflow by its id alone, from another board sharing the store', async () => {
    const store = new MemoryStore();
    await using worker = new Board({ store, shared: { pollMs: 5 } });
    await using front = new Board({ store, shared: { pollMs: 5 }, work: false });
    billing(worker);
    await worker.start(Order, { sku: 'a', qty: 3 }, { id: 'req-9' });
    const found = await front.workflowRun('req-9', { requires: [Receipt] });
    expect(found).toMatchObject({ id: 'req-9', created: false, input: { type: 'Order', payload: { sku: 'a', qty: 3 } } });
    const [receipt] = await found!.result({ timeoutMs: 20_000 });
    expect(receipt.payload.text).toBe('paid 30');
    expect(await found!.status()).toBe('completed');
    expect(await front.workflowRun('never-started')).toBeUndefined();
    await expect(front.workflowRun('')).rejects.toThrow(TypeError);
    await expect(front.workflowRun('req-9', { requires: [Receipt], id: 'x' } as never)).rejects.toThrow(/its only option is requires/);
  });

  it('rejects with a CancelledError when the workflow is cancelled', async () => {
    await using board = new Board();
    const held = gate();
    billing(board, { before: (signal) => held.wait(signal) });
    const run = await board.start(Order, { sku: 'a', qty: 1 }, { requires: [Invoice] });
    const result = run.result();
    await run.cancel();
    await expect(result).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('is idempotent by id: a second start publishes nothing and answers the same workflow', async () => {
    await using board = new Board();
    billing(board);
    const first = await board.start(Order, { sku: 'a', qty: 1 }, { id: 'same', requires: [Invoice] });
    await first.result();
    const second = await board.start(Order, { sku: 'a', qty: 1 }, { id: 'same', requires: [Invoice] });
    expect(second.created).toBe(false);
    expect(second.input.id).toBe(first.input.id);
    expect(await board.store.list({ type: Order })).toHaveLength(1);
    expect(board.stats().agents.billing?.done).toBe(1);
    await expect(board.start(Invoice, { total: 1 }, { id: 'same' })).rejects.toThrow(/was started with a Order input/);
  });

  it('two concurrent starts of one id are one workflow, whatever the interleaving (one board)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const board = new Board({ store: scheduled(new MemoryStore(), s) });
        billing(board);
        const starts = [1, 2].map(() => board.start(Order, { sku: 'x', qty: 1 }, { id: 'dup', requires: [Invoice] }));
        await s.waitFor(Promise.all(starts));
        const runs = await Promise.all(starts);
        expect(runs.filter((run) => run.created)).toHaveLength(1);
        expect(runs[0]!.input.id).toBe(runs[1]!.input.id);
        await s.waitFor(board.runUntilIdle());
        expect(await board.store.list({ type: Order })).toHaveLength(1);
        await s.waitFor(board.shutdown());
      }),
      { numRuns: 30 },
    );
  });

  it('two boards sharing a store, starting one id at once, make one workflow whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const store = new MemoryStore();
        const boards = [0, 1].map(() => new Board({ store: scheduled(store, s), shared: { pollMs: 60_000 }, work: false }));
        for (const board of boards) billing(board);
        const starts = boards.map((board) => board.start(Order, { sku: 'x', qty: 1 }, { id: 'dup' }));
        await s.waitFor(Promise.all(starts));
        const runs = await Promise.all(starts);
        expect(runs.filter((run) => run.created)).toHaveLength(1);
        expect(store.list({ type: Order })).toHaveLength(1);
        expect(store.listRuns()).toHaveLength(1); // one run of billing queued, not two
        await s.waitFor(Promise.all(boards.map((board) => board.shutdown())));
      }),
      { numRuns: 30 },
    );
  });

  it('is idempotent across a restart of a durable store (SQLite), and a restarted board can await the result', async () => {
    const path = join(dir, 'restart.db');
    {
      await using board = new Board({ store: new SqliteStore({ path }) });
      billing(board);
      const run = await board.start(Order, { sku: 'a', qty: 4 }, { id: 'order-7', requires: [Receipt] });
      expect(run.created).toBe(true);
      await run.result();
    }
    await using board = new Board({ store: new SqliteStore({ path }) });
    billing(board);
    await board.resume();
    const again = await board.start(Order, { sku: 'a', qty: 4 }, { id: 'order-7', requires: [Receipt] });
    expect(again.created).toBe(false);
    const [receipt] = await again.result();
    expect(receipt.payload.text).toBe('paid 40');
    expect(await board.store.list({ type: Order })).toHaveLength(1);
    expect(board.stats().agents.billing?.done).toBe(0); // nothing ran again
  });

  it('rejects unknown options and bad arguments with a TypeError naming the known ones', async () => {
    await using board = new Board();
    await expect(board.start(Order, { sku: 'a', qty: 1 }, { key: 'x' } as never)).rejects.toThrow(/its options are id, requires, signal, timeoutMs, tags, visibility/);
    await expect(board.start(Order, { sku: 'a', qty: 1 }, { id: '' })).rejects.toThrow(TypeError);
    await expect(board.start(Order, { sku: 'a', qty: 1 }, { requires: [42] as never })).rejects.toThrow(TypeError);
    expect(() => new Board({ maxActiveWorkflows: 0 })).toThrow(RangeError);
    await expect(board.start(Order, { sku: 1 } as never)).rejects.toMatchObject({ name: 'ValidationError' });
  });
});

describe('admission control (maxActiveWorkflows)', () => {
  it('keeps at most N workflows active; the rest wait, first come first served, storing nothing', async () => {
    await using board = new Board({ maxActiveWorkflows: 4 });
    const held = gate();
    let active = 0;
    let most = 0;
    board
      .agent('worker')
      .consumes(Order)
      .publishes(Invoice)
      .maxConcurrency(1_000)
      .handle(async ([order], ctx) => {
        most = Math.max(most, ++active);
        try {
          await held.wait(ctx.signal);
          return { total: order.payload.qty };
        } finally {
          active--;
        }
      });
    const admitted: number[] = [];
    const runs = Array.from({ length: 300 }, (_, i) =>
      board.start(Order, { sku: `s${i}`, qty: i }, { requires: [Invoice] }).then(async (run) => {
        admitted.push(i);
        return run.result();
      }),
    );
    await until(() => board.stats().admission?.waiting === 296);
    expect(board.stats().admission).toEqual({ max: 4, active: 4, waiting: 296 });
    expect(await board.store.list({ type: Order })).toHaveLength(4); // waiting starts stored nothing
    held.open();
    const results = await Promise.all(runs);
    expect(results.map(([invoice]) => invoice.payload.total)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(most).toBeLessThanOrEqual(4);
    expect(admitted).toEqual(Array.from({ length: 300 }, (_, i) => i)); // in arrival order
    await until(() => board.stats().admission?.active === 0);
  });

  it('a waiting start gives up on its signal or its timeout, leaving its place to the next, and fails at shutdown', async () => {
    const board = new Board({ maxActiveWorkflows: 1 });
    const held = gate();
    billing(board, { before: (signal) => held.wait(signal) });
    await board.start(Order, { sku: 'first', qty: 1 });
    const controller = new AbortController();
    const aborted = board.start(Order, { sku: 'aborted', qty: 1 }, { signal: controller.signal });
    const timedOut = board.start(Order, { sku: 'late', qty: 1 }, { timeoutMs: 5 });
    const waiting = board.start(Order, { sku: 'patient', qty: 1 });
    await expect(timedOut).rejects.toBeInstanceOf(TimeoutError);
    controller.abort(new Error('client went away'));
    await expect(aborted).rejects.toThrow('client went away');
    expect(board.stats().admission).toEqual({ max: 1, active: 1, waiting: 1 });
    await board.shutdown();
    await expect(waiting).rejects.toMatchObject({ name: 'BoardClosedError' });
    expect(await board.store.list({ type: Order })).toHaveLength(1); // only the admitted one was stored
  });

  it('after a restart of a durable store, workflows still active keep their places', async () => {
    const path = join(dir, 'admission.db');
    {
      const board = new Board({ store: new SqliteStore({ path }), maxActiveWorkflows: 1 });
      const never = gate();
      billing(board, { before: (signal) => never.wait(signal) });
      await board.start(Order, { sku: 'a', qty: 1 }, { id: 'left-running' });
      await until(() => board.stats().agents.billing?.running === 1);
      await board.shutdown(); // the run goes back to the store's queue
    }
    await using board = new Board({ store: new SqliteStore({ path }), maxActiveWorkflows: 1 });
    const held = gate();
    billing(board, { before: (signal) => held.wait(signal) });
    await board.resume();
    const next = board.start(Order, { sku: 'b', qty: 1 }, { id: 'after-restart', requires: [Invoice] });
    await until(() => board.stats().admission?.waiting === 1);
    expect(board.stats().admission).toMatchObject({ active: 0, waiting: 1 }); // this board started none yet
    expect(await board.store.admittedWorkflows!(Date.now())).toBe(1); // the one from before the restart
    held.open();
    const [invoice] = await (await next).result();
    expect(invoice.correlationId).toBe('after-restart');
  });
});

/** The store with its asynchronous answers handed out in the order the fast-check scheduler picks. */
function scheduled(store: BoardStore, s: fc.Scheduler): BoardStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (key !== 'publish' && key !== 'getArtifacts') return (value as (...args: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => s.schedule(Promise.resolve(), String(key)).then(() => (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}
