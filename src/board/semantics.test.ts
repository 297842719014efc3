import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AgentFailed, Board, LoopDetected, MemoryStore, ValidationError, artifactType, visibility, type BoardEvent } from 'skein/board';
import type { PublishUnit, UnitResult } from 'skein/board/store';

const Order = artifactType('Order', z.object({ orderId: z.string() }));
const Shipment = artifactType('Shipment', z.object({ orderId: z.string() }));
const Step = artifactType('Step', z.object({ n: z.number() }));
const Anything = artifactType('Anything', z.any());

async function drain(events: AsyncIterable<BoardEvent>): Promise<BoardEvent[]> {
  const all: BoardEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

describe('joins', () => {
  it('joins an Order and a Shipment published in different workflows by their key, the run belonging to the first input\'s workflow', async () => {
    await using board = new Board();
    const runs: { ids: string[]; correlationId: string }[] = [];
    board
      .agent('matcher')
      .consumes([Order, Shipment], { join: { by: (a) => a.payload.orderId, withinMs: 60_000 } })
      .handle(([order, shipment], ctx) => void runs.push({ ids: [order.payload.orderId, shipment.payload.orderId], correlationId: ctx.correlationId }));
    await board.publish(Shipment, { orderId: 'o-7' }, { correlationId: 'shipping' });
    await board.publish(Order, { orderId: 'o-7' }, { correlationId: 'sales' });
    await board.runUntilIdle();
    expect(runs).toEqual([{ ids: ['o-7', 'o-7'], correlationId: 'sales' }]);
  });

  it('keeps gate keys free of NUL characters, so that every SQL store can hold them', async () => {
    await using board = new Board();
    board.agent('pair').consumes([Order, Shipment], { join: { by: (a) => `${a.payload.orderId}\u0000x`, withinMs: 60_000 } }).handle(() => {});
    await board.publish(Order, { orderId: 'a' });
    const [gate] = await board.store.listGates();
    expect(gate?.key).not.toContain('\u0000');
    await board.shutdown();
  });
});

describe('run limits', () => {
  it('holds an agent\'s maxRuns across idle periods of its workflow', async () => {
    await using board = new Board();
    let runs = 0;
    board.agent('worker').consumes(Step).maxRuns(2).handle(() => void runs++);
    for (let i = 0; i < 3; i++) {
      await board.publish(Step, { n: i }, { correlationId: 'wf' });
      await board.runUntilIdle();
    }
    expect(runs).toBe(2);
    expect(await board.store.list({ type: LoopDetected })).toHaveLength(1);
  });

  it('runs all 9,000 runs of 3,000 artifacts through a chain in one workflow: volume is not a loop', async () => {
    const A = artifactType('A', z.number());
    const B = artifactType('B', z.number());
    const C = artifactType('C', z.number());
    await using board = new Board({ store: new MemoryStore({ maxArtifacts: 100 }) });
    board.agent('first').consumes(A).publishes(B).handle(([a]) => a.payload);
    board.agent('second').consumes(B).publishes(C).handle(([b]) => b.payload);
    board.agent('third').consumes(C).handle(() => {});
    for (let i = 0; i < 3_000; i++) await board.publish(A, i, { correlationId: 'one-workflow' });
    await board.runUntilIdle();
    const done = Object.values(board.stats().agents).reduce((sum, agent) => sum + agent.done, 0);
    expect(done).toBe(9_000);
    expect(await board.store.list({ type: LoopDetected })).toEqual([]);
  });

  it('makes hitting the loop limit loud: a LoopDetected fact and an error event', async () => {
    const Ping = artifactType('Ping', z.number());
    const board = new Board({ maxRunsPerWorkflow: 2 });
    board.agent('echo').consumes(Ping).publishes(Ping).allowSelfTrigger().handle(([p]) => p.payload + 1);
    const events = board.events();
    await board.publish(Ping, 0);
    await board.runUntilIdle();
    await board.shutdown();
    expect(await board.store.list({ type: LoopDetected })).toHaveLength(1);
    const errors = (await drain(events)).filter((e) => e.kind === 'error');
    expect(errors).toMatchObject([{ operation: 'run limit', agent: 'echo' }]);
  });
});

describe('triggering', () => {
  it('triggers an agent once for an artifact that matches two of its consumes, unless it asks for one run per subscription', async () => {
    await using board = new Board();
    let once = 0;
    let twice = 0;
    board.agent('once').consumes(Step).consumes(Step, { where: (s) => s.payload.n > 0 }).handle(() => void once++);
    board.agent('twice').consumes(Step).consumes(Step, { where: (s) => s.payload.n > 0 }).triggerPerSubscription().handle(() => void twice++);
    await board.publish(Step, { n: 1 });
    await board.runUntilIdle();
    expect([once, twice]).toEqual([1, 2]);
  });
});

describe('type identity', () => {
  it('rejects a publish with a type object that is not the registered one, storing nothing', async () => {
    await using board = new Board();
    board.agent('billing').consumes(Order).handle(() => {});
    const Impostor = artifactType('Order', z.any());
    await expect(board.publish(Impostor, { orderId: 1 })).rejects.toThrow(/not the artifact type registered under that name/);
    expect(await board.store.list()).toEqual([]);
  });

  it('refuses outside publishes of the board\'s own facts', async () => {
    await using board = new Board();
    await expect(board.publish(AgentFailed, {} as never)).rejects.toThrow(/only the board publishes/);
    await expect(board.publish(LoopDetected, {} as never)).rejects.toThrow(TypeError);
    expect(await board.store.list()).toEqual([]);
  });
});

describe('payloads', () => {
  it('keeps the stored payload when the publisher mutates its object afterwards', async () => {
    await using board = new Board();
    const payload = { nested: { value: 1 } };
    const stored = await board.publish(Anything, payload);
    payload.nested.value = 2;
    const [listed] = await board.store.list({ type: Anything });
    expect(listed?.payload).toEqual({ nested: { value: 1 } });
    expect(stored.payload).toEqual({ nested: { value: 1 } });
  });

  it('gives agents frozen payloads, so that one agent cannot change what another sees', async () => {
    await using board = new Board();
    const seen: unknown[] = [];
    board.agent('vandal').consumes(Anything).handle(([input]) => {
      (input.payload as { value: number }).value = 99;
    });
    board.agent('reader').consumes(Anything).handle(([input]) => void seen.push(input.payload));
    await board.publish(Anything, { value: 1 });
    await board.runUntilIdle();
    expect(board.stats().agents.vandal?.failed).toBe(1); // assigning to a frozen object throws in strict mode
    expect(seen).toEqual([{ value: 1 }]);
  });

  it.each([
    ['a function', { deep: { fn: () => 1 } }, 'deep.fn'],
    ['a symbol', { list: [1, Symbol('s')] }, 'list.1'],
    ['a BigInt', { big: 1n }, 'big'],
    ['a class instance', { when: new Date(0) }, 'when'],
  ])('rejects a payload holding %s with a ValidationError naming its path', async (_what, payload, path) => {
    await using board = new Board();
    const error = await board.publish(Anything, payload).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path).toBe(path);
    expect(await board.store.list()).toEqual([]);
  });

  it('rejects a payload with a cycle with a ValidationError naming its path', async () => {
    await using board = new Board();
    const cyclic: Record<string, unknown> = { a: { b: {} } };
    (cyclic.a as { b: Record<string, unknown> }).b.back = cyclic;
    const error = await board.publish(Anything, cyclic).catch((e: unknown) => e);
    expect((error as ValidationError).issues[0]?.path).toBe('a.b.back');
  });
});

describe('facts', () => {
  it('shows AgentFailed only to agents that could see the failed run\'s inputs', async () => {
    await using board = new Board();
    const seenBy: string[] = [];
    board.agent('tenant-a-worker').tenant('a').consumes(Step).handle(() => {
      throw new Error('secret of tenant a');
    });
    board.agent('tenant-a-medic').tenant('a').consumes(AgentFailed).handle(() => void seenBy.push('a'));
    board.agent('tenant-b-medic').tenant('b').consumes(AgentFailed).handle(() => void seenBy.push('b'));
    await board.publish(Step, { n: 1 }, { visibility: visibility.tenant('a') });
    await board.runUntilIdle();
    expect(seenBy).toEqual(['a']);
    const [fact] = await board.store.list({ type: AgentFailed });
    expect(fact?.visibility).toEqual({ kind: 'tenant', tenant: 'a' });
  });
});

describe('publish', () => {
  it.each([true, false])('rejects a publish with an already-aborted signal and stores nothing (an agent consumes the type: %s)', async (consumed) => {
    await using board = new Board();
    if (consumed) board.agent('worker').consumes(Step).handle(() => {});
    const controller = new AbortController();
    controller.abort(new Error('gave up'));
    await expect(board.publish(Step, { n: 1 }, { signal: controller.signal })).rejects.toThrow('gave up');
    expect(await board.store.list()).toEqual([]);
    await board.runUntilIdle();
  });

  it('rejects the publish when the store refuses a gate write, and loses nothing in silence', async () => {
    class RefusingStore extends MemoryStore {
      override publish(unit: PublishUnit): UnitResult {
        if (unit.writes.some((write) => write.deposits.length > 0)) throw new Error('disk full');
        return super.publish(unit);
      }
    }
    await using board = new Board({ store: new RefusingStore() });
    board.agent('batcher').consumes(Step, { batch: { size: 2 } }).handle(() => {});
    await expect(board.publish(Step, { n: 1 })).rejects.toThrow('disk full');
    expect(await board.store.list()).toEqual([]);
    await board.runUntilIdle();
  });
});
