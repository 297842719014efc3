import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, artifactExists, artifactType, workflowDone } from 'skein/board';
import { PostgresStore } from './stores/postgres/postgres-store.js';
import { dropSchema, freshSchema, POSTGRES_URL } from './stores/postgres/test-schema.js';

const Order = artifactType('Order', z.object({ sku: z.string() }));
const Invoice = artifactType('Invoice', z.object({ total: z.number() }));

describe.skipIf(POSTGRES_URL === undefined)('board.start and runUntil on PostgreSQL, two boards on one schema', { timeout: 90_000 }, () => {
  let schema = '';
  beforeEach(() => {
    schema = freshSchema('skein_app');
  });
  afterEach(async () => {
    await dropSchema(schema);
  });

  const open = async (work: boolean, maxActiveWorkflows?: number): Promise<Board> => {
    const board = new Board({ store: await PostgresStore.open({ connectionString: POSTGRES_URL!, schema, poolSize: 3 }), shared: { pollMs: 50 }, work, maxActiveWorkflows });
    board.agent('billing').consumes(Order).publishes(Invoice).handle(() => ({ total: 10 }));
    return board;
  };

  it('many concurrent starts of one id on two boards make one workflow; the other board hears of its end', async () => {
    await using front = await open(false);
    await using worker = await open(true);
    const starts = await Promise.all([front, worker, front, worker, front, worker].map((board) => board.start(Order, { sku: 'a' }, { id: 'order-1', requires: [Invoice] })));
    expect(starts.filter((run) => run.created)).toHaveLength(1);
    expect(new Set(starts.map((run) => run.input.id)).size).toBe(1);
    await front.runUntil(artifactExists(Invoice, { correlationId: 'order-1' }), { timeoutMs: 30_000 });
    await front.runUntil(workflowDone('order-1'), { timeoutMs: 30_000 });
    const [invoice] = await starts[0]!.result({ timeoutMs: 30_000 });
    expect(invoice.payload.total).toBe(10);
    expect(await front.store.list({ type: Order })).toHaveLength(1);
    expect(await front.store.list({ type: Invoice })).toHaveLength(1);
  });

  it('maxActiveWorkflows holds for both boards together: never more than the limit admitted at once', async () => {
    // Two front boards take the requests, two workers run them: four boards, one limit.
    const boards = [await open(false, 2), await open(false, 2), await open(true, 2), await open(true, 2)];
    let running = 0;
    let most = 0;
    let mostAdmitted = 0;
    for (const board of boards) {
      board
        .agent('slow')
        .consumes(Invoice)
        .maxConcurrency(10)
        .handle(async () => {
          most = Math.max(most, ++running);
          mostAdmitted = Math.max(mostAdmitted, await board.store.admittedWorkflows!(Date.now()));
          await new Promise((resolve) => setTimeout(resolve, 20));
          running--;
        });
    }
    try {
      const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => boards[i % 2]!.start(Order, { sku: `s${i}` }, { id: `order-${i}`, timeoutMs: 60_000 })));
      await Promise.all(runs.map((run) => run.workflow.done({ timeoutMs: 60_000 })));
      expect(await boards[0]!.store.list({ type: Invoice })).toHaveLength(10);
      expect(most).toBeLessThanOrEqual(2);
      expect(mostAdmitted).toBeLessThanOrEqual(2);
      expect(most).toBeGreaterThan(0);
    } finally {
      await Promise.all(boards.map((board) => board.shutdown()));
    }
  });
});
