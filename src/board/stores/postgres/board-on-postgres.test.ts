import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { artifactType } from '../../artifact.js';
import { Board } from '../../board.js';
import { openTestStore, POSTGRES_URL } from './test-schema.js';

const Order = artifactType('Order', z.object({ n: z.number() }));
const Priced = artifactType('Priced', z.object({ n: z.number(), price: z.number() }));
const Shipped = artifactType('Shipped', z.object({ n: z.number() }));
const Pair = artifactType('Pair', z.object({ ns: z.array(z.number()) }));

describe.skipIf(POSTGRES_URL === undefined)('a board on the PostgreSQL store', () => {
  it('runs a chain and a batch to idle with every output stored in PostgreSQL', async () => {
    const store = await openTestStore();
    // The board owns its store: shutting it down closes the store (and here drops the test schema).
    await using board = new Board({ store });
    {
      board.agent('pricer').consumes(Order).publishes(Priced).handle(async ([order]) => ({ n: order.payload.n, price: order.payload.n * 10 }));
      board.agent('shipper').consumes(Priced).publishes(Shipped).handle(async ([priced]) => ({ n: priced.payload.n }));
      board
        .agent('pairer')
        .consumes(Shipped, { batch: { size: 2, timeoutMs: 50 } })
        .publishes(Pair)
        .handle(async (shipped) => ({ ns: shipped.map((s) => s.payload.n).sort((a, b) => a - b) }));
      for (let n = 0; n < 10; n++) await board.publish(Order, { n }, { correlationId: 'orders' });
      await board.runUntilIdle();
      expect(await store.list({ type: 'Shipped' })).toHaveLength(10);
      const pairs = (await store.list({ type: 'Pair' })).flatMap((a) => (a.payload as { ns: number[] }).ns).sort((a, b) => a - b);
      expect(pairs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(await store.pending()).toEqual({ queued: 0, paused: 0, running: 0, timedGates: 0 });
    }
  });
});
