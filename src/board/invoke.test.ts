import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TimeoutError, constant } from 'skein';
import { Board, artifactType, visibility, type Artifact } from 'skein/board';
import { SqliteStore } from 'skein/board/sqlite';

const Idea = artifactType('Idea', z.object({ topic: z.string() }));
const Pizza = artifactType('Pizza', z.object({ name: z.string() }));
const Review = artifactType('Review', z.object({ pizza: z.string() }));

function kitchen(board: Board, options: { chef?: (topic: string, signal: AbortSignal) => Promise<void> } = {}): string[] {
  const reviewed: string[] = [];
  board
    .agent('chef')
    .consumes(Idea)
    .publishes(Pizza)
    .handle(async ([idea], ctx) => {
      await options.chef?.(idea.payload.topic, ctx.signal);
      return { name: idea.payload.topic };
    });
  board.agent('critic').consumes(Pizza).publishes(Review).handle(([pizza]) => {
    reviewed.push(pizza.payload.name);
    return { pizza: pizza.payload.name };
  });
  return reviewed;
}

const hang = (signal: AbortSignal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

describe('board.invoke', () => {
  it('runs one agent on a payload and answers its outputs, storing nothing and scheduling no one', async () => {
    await using board = new Board();
    const reviewed = kitchen(board);
    const outputs = await board.invoke('chef', { topic: 'funghi' });
    expect(outputs.map((o) => [o.type, o.payload, o.producedBy])).toEqual([['Pizza', { name: 'funghi' }, 'chef']]);
    expect(Object.isFrozen(outputs[0])).toBe(true);
    await board.runUntilIdle();
    expect(reviewed).toEqual([]);
    expect(await board.store.list()).toEqual([]);
    expect(board.stats().published).toBe(0);
  });

  it('with react: true, stores the input (scheduling no one) and publishes the outputs, and other agents react', async () => {
    await using board = new Board();
    const reviewed = kitchen(board);
    const [pizza] = await board.invoke('chef', Idea.draft({ topic: 'diavola' }), { react: true, correlationId: 'wf-1' });
    await board.runUntilIdle();
    expect(reviewed).toEqual(['diavola']);
    const stored = await board.store.list({ correlationId: 'wf-1' });
    expect(stored.map((a) => a.type)).toEqual(['Idea', 'Pizza', 'Review']);
    expect(stored[1]!.id).toBe(pizza!.id);
    expect(stored[1]!.causedBy).toEqual([stored[0]!.id]);
    expect(board.stats().agents.chef?.done).toBe(0); // the invocation is not a board run
  });

  it('takes a stored artifact as input and keeps its workflow; stores outputs through a durable store', async () => {
    await using board = new Board({ store: new SqliteStore({ path: ':memory:' }) });
    kitchen(board);
    board.agent('other').consumes(Idea).handle(() => {});
    const idea: Artifact = await board.publish(Idea, { topic: 'marinara' }, { correlationId: 'menu' });
    await board.runUntilIdle();
    const [again] = await board.invoke('chef', idea, { react: true });
    expect(again).toMatchObject({ correlationId: 'menu', causedBy: [idea.id] });
    await board.runUntilIdle();
    expect((await board.store.list({ type: Pizza })).length).toBe(2);
  });

  it('applies the agent\'s policy, and rejects with the last error (no AgentFailed, no dead letter)', async () => {
    await using board = new Board();
    let attempts = 0;
    board.agent('flaky').consumes(Idea).publishes(Pizza).retry({ maxAttempts: 3, backoff: constant(1) }).handle(() => {
      attempts++;
      throw new Error(`oven ${attempts}`);
    });
    await expect(board.invoke('flaky', { topic: 'x' })).rejects.toThrow('oven 3');
    expect(await board.store.list()).toEqual([]);
    expect(await board.deadLetters()).toEqual([]);
  });

  it('streams: yields and ctx.publish become outputs too', async () => {
    await using board = new Board();
    board.agent('poet').consumes(Idea).publishes(Pizza).handle(async function* ([idea], ctx) {
      await ctx.publish(Pizza, { name: `${idea.payload.topic} 1` });
      yield { name: `${idea.payload.topic} 2` };
    });
    expect((await board.invoke('poet', { topic: 't' })).map((o) => o.payload)).toEqual([{ name: 't 1' }, { name: 't 2' }]);
  });

  it('aborts the run on timeout, on the caller\'s signal, and at shutdown', async () => {
    const board = new Board();
    kitchen(board, { chef: (_topic, signal) => hang(signal) });
    await expect(board.invoke('chef', { topic: 'x' }, { timeoutMs: 5 })).rejects.toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const aborted = board.invoke('chef', { topic: 'x' }, { signal: controller.signal });
    controller.abort(new Error('caller left'));
    await expect(aborted).rejects.toThrow('caller left');
    const running = board.invoke('chef', { topic: 'x' });
    await board.shutdown();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('holds one of the agent\'s permits: maxConcurrency counts invocations', async () => {
    await using board = new Board();
    let active = 0;
    let most = 0;
    board.agent('solo').consumes(Idea).handle(async () => {
      most = Math.max(most, ++active);
      await new Promise((resolve) => setImmediate(resolve));
      active--;
    });
    await Promise.all([1, 2, 3].map(() => board.invoke('solo', { topic: 'x' })));
    expect(most).toBe(1);
  });

  it('rejects inputs the agent does not consume or may not see, invalid payloads, unknown agents and options', async () => {
    await using board = new Board();
    kitchen(board);
    board.agent('two').consumes(Idea).consumes(Pizza).handle(() => {});
    board.agent('private').consumes(Idea).handle(() => {});
    expect(() => board.invoke('nobody', {})).toThrow(RangeError);
    expect(() => board.invoke('chef', {}, { react: 'yes' } as never)).toThrow(TypeError);
    expect(() => board.invoke('chef', {}, { timeout: 1 } as never)).toThrow(/its options are signal, timeoutMs, react, correlationId/);
    await expect(board.invoke('chef', { topic: 42 })).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(board.invoke('chef', Pizza.draft({ name: 'x' }))).rejects.toThrow(/does not consume Pizza/);
    await expect(board.invoke('two', { topic: 'x' })).rejects.toThrow(/pass an artifact or Type.draft/);
    expect(await board.invoke('two', Pizza.draft({ name: 'x' }))).toEqual([]);
    await expect(board.invoke('private', Idea.draft({ topic: 'x' }, { visibility: visibility.private(['chef']) }))).rejects.toThrow(/may not see/);
  });
});
