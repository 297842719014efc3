import { describe, it, expect } from 'vitest';
import { z } from 'zod';
import { Board, artifactType } from 'skein/board';

describe('smoke', () => {
  it('runs a chain', async () => {
    const Idea = artifactType('Idea', z.object({ topic: z.string() }));
    const Pizza = artifactType('Pizza', z.object({ name: z.string() }));
    const board = new Board();
    board.agent('chef').consumes(Idea).publishes(Pizza).maxConcurrency(4).handle(async ([idea]) => ({ name: idea.payload.topic }));
    await board.publish(Idea, { topic: 'margherita' });
    await board.runUntilIdle();
    const pizzas = await board.store.list({ type: Pizza });
    expect(pizzas.map((p) => p.payload.name)).toEqual(['margherita']);
    await board.shutdown();
  });
});
