import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  Board,
  BoardClosedError,
  MemoryStore,
  OutputError,
  PublishBlockedError,
  ValidationError,
  artifactType,
  type Artifact,
  type BoardEvent,
} from 'skein/board';

const Idea = artifactType('Idea', z.object({ topic: z.string() }));
const Pizza = artifactType('Pizza', z.object({ name: z.string(), size: z.number().int().positive().default(30) }));
const Review = artifactType('Review', z.object({ stars: z.number().min(1).max(5) }));
const Order = artifactType('Order', z.object({ id: z.string(), items: z.array(z.object({ sku: z.string(), qty: z.number().int() })) }));

/** A promise and its resolver, to hold a run open until the test lets it go. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

async function collect(events: AsyncIterableIterator<BoardEvent>, until: (event: BoardEvent) => boolean): Promise<BoardEvent[]> {
  const seen: BoardEvent[] = [];
  for await (const event of events) {
    seen.push(event);
    if (until(event)) break;
  }
  return seen;
}

describe('Board: publishing', () => {
  it('stores a validated artifact with its metadata and returns it', async () => {
    await using board = new Board();
    const before = Date.now();
    const idea = await board.publish(Idea, { topic: 'margherita' }, { tags: ['veg'], correlationId: 'wf-1' });
    expect(idea).toMatchObject({ type: 'Idea', payload: { topic: 'margherita' }, producedBy: 'external', correlationId: 'wf-1', tags: ['veg'] });
    expect(idea.visibility).toEqual({ kind: 'public' });
    expect(Date.parse(idea.createdAt)).toBeGreaterThanOrEqual(before - 1);
    expect(idea.createdAt.endsWith('Z')).toBe(true);
    expect(await board.store.list({ type: Idea })).toEqual([idea]);
    expectTypeOf(idea.payload).toEqualTypeOf<{ topic: string }>();
  });

  it('stores the parsed payload (schema defaults applied)', async () => {
    await using board = new Board();
    const pizza = await board.publish(Pizza, { name: 'marinara' });
    expect(pizza.payload).toEqual({ name: 'marinara', size: 30 });
  });

  it('gives each external publish its own workflow unless a correlation id is given', async () => {
    await using board = new Board();
    const a = await board.publish(Idea, { topic: 'a' });
    const b = await board.publish(Idea, { topic: 'b' });
    expect(a.correlationId).not.toBe(b.correlationId);
    expect(a.id).not.toBe(b.id);
  });

  it('rejects an invalid payload with a ValidationError naming every failing path, and stores and schedules nothing', async () => {
    await using board = new Board();
    let runs = 0;
    board.agent('clerk').consumes(Order).handle(() => {
      runs++;
    });
    const error = await board.publish(Order, { id: 7, items: [{ sku: 'x', qty: 1.5 }] } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const paths = (error as ValidationError).issues.map((issue) => issue.path).sort();
    expect(paths).toEqual(['id', 'items.0.qty']);
    expect((error as ValidationError).message).toContain('items.0.qty');
    expect((error as ValidationError).typeName).toBe('Order');
    await board.runUntilIdle();
    expect(await board.store.list()).toEqual([]);
    expect(runs).toBe(0);
  });

  it('accepts a schema that validates asynchronously', async () => {
    const Async = artifactType('Async', {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value: unknown) => (typeof value === 'number' ? { value } : { issues: [{ message: 'not a number', path: [{ key: 'n' }] }] }),
      },
    });
    await using board = new Board();
    expect((await board.publish(Async, 3)).payload).toBe(3);
    const error = (await board.publish(Async, 'x').catch((e: unknown) => e)) as ValidationError;
    expect(error.issues).toEqual([{ path: 'n', message: 'not a number' }]);
  });

  it('validates its arguments', async () => {
    await using board = new Board();
    await expect(board.publish({} as never, {})).rejects.toThrow(TypeError);
    await expect(board.publish(Idea, { topic: 'x' }, 'nope' as never)).rejects.toThrow(TypeError);
    await expect(board.publish(Idea, { topic: 'x' }, { correlationId: '' })).rejects.toThrow(/correlationId/);
    await expect(board.publish(Idea, { topic: 'x' }, { tags: 'a' as never })).rejects.toThrow(/tags/);
    await expect(board.publish(Idea, { topic: 'x' }, { visibility: { kind: 'secret' } as never })).rejects.toThrow(/visibility/);
    await expect(board.publish(Idea, { topic: 'x' }, { signal: 'no' as never })).rejects.toThrow(/signal/);
  });

  it('publishMany validates every payload first and publishes none if one is invalid', async () => {
    await using board = new Board();
    const error = (await board.publishMany(Review, [{ stars: 3 }, { stars: 9 }, { stars: 0 }]).catch((e: unknown) => e)) as ValidationError;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues.map((issue) => issue.path)).toEqual(['1.stars', '2.stars']);
    expect(await board.store.list()).toEqual([]);
    const published = await board.publishMany(Review, [{ stars: 3 }, { stars: 4 }], { correlationId: 'batch' });
    expect(published.map((a) => a.payload.stars)).toEqual([3, 4]);
    expect(published.every((a) => a.correlationId === 'batch')).toBe(true);
    await expect(board.publishMany(Review, 'x' as never)).rejects.toThrow(TypeError);
  });

  it('rejects two different types with one name on the same board', async () => {
    await using board = new Board();
    const Other = artifactType('Idea', z.object({ other: z.string() }));
    board.agent('a').consumes(Idea).handle(() => {});
    expect(() => board.agent('b').consumes(Other).handle(() => {})).toThrow(/named 'Idea'/);
  });
});

describe('Board: agents and matching', () => {
  it('runs a first agent and lists its output', async () => {
    const board = new Board();
    board
      .agent('chef')
      .consumes(Idea)
      .publishes(Pizza)
      .maxConcurrency(4)
      .handle(async ([idea], ctx) => {
        expectTypeOf(idea.payload.topic).toEqualTypeOf<string>();
        expect(ctx.signal).toBeInstanceOf(AbortSignal);
        return { name: idea.payload.topic };
      });
    const idea = await board.publish(Idea, { topic: 'margherita' });
    await board.runUntilIdle();
    const pizzas = await board.store.list({ type: Pizza });
    expectTypeOf(pizzas).toEqualTypeOf<Artifact<{ name: string; size: number }>[]>();
    expect(pizzas.map((p) => p.payload)).toEqual([{ name: 'margherita', size: 30 }]);
    expect(pizzas[0]).toMatchObject({ producedBy: 'chef', correlationId: idea.correlationId, causedBy: [idea.id] });
    await board.shutdown();
  });

  it('filters by where, from and tags', async () => {
    await using board = new Board();
    const seen: string[] = [];
    board
      .agent('picky')
      .consumes(Idea, { where: (a) => a.payload.topic.startsWith('m'), tags: ['veg'], from: 'external' })
      .handle(([idea]) => {
        seen.push(idea.payload.topic);
      });
    await board.publish(Idea, { topic: 'margherita' }, { tags: ['veg', 'classic'] });
    await board.publish(Idea, { topic: 'marinara' });
    await board.publish(Idea, { topic: 'diavola' }, { tags: ['veg'] });
    await board.runUntilIdle();
    expect(seen).toEqual(['margherita']);
  });

  it('treats several consumes calls as alternatives', async () => {
    await using board = new Board();
    const seen: string[] = [];
    board
      .agent('either')
      .consumes(Idea)
      .consumes(Review)
      .handle((inputs) => {
        seen.push(inputs[0].type);
      });
    await board.publish(Idea, { topic: 'x' });
    await board.publish(Review, { stars: 2 });
    await board.runUntilIdle();
    expect(seen.sort()).toEqual(['Idea', 'Review']);
  });

  it('runs an AND gate once one of each type arrived in the same workflow', async () => {
    await using board = new Board();
    const runs: string[][] = [];
    board
      .agent('critic')
      .consumes([Pizza, Review])
      .handle(([pizza, review]) => {
        expectTypeOf(review.payload.stars).toEqualTypeOf<number>();
        runs.push([pizza.payload.name, String(review.payload.stars)]);
      });
    await board.publish(Pizza, { name: 'a' }, { correlationId: 'one' });
    await board.publish(Review, { stars: 4 }, { correlationId: 'two' });
    await board.runUntilIdle();
    expect(runs).toEqual([]);
    await board.publish(Review, { stars: 5 }, { correlationId: 'one' });
    await board.runUntilIdle();
    expect(runs).toEqual([['a', '5']]);
  });

  it('is not triggered by its own output unless it allows it', async () => {
    const Count = artifactType('Count', z.number());
    await using board = new Board();
    let runs = 0;
    board.agent('echo').consumes(Count).publishes(Count).handle(([n]) => {
      runs++;
      return n.payload + 1;
    });
    await board.publish(Count, 0);
    await board.runUntilIdle();
    expect(runs).toBe(1);

    await using other = new Board();
    other
      .agent('counter')
      .consumes(Count, { where: (a) => a.payload < 3 })
      .publishes(Count)
      .allowSelfTrigger()
      .handle(([n]) => n.payload + 1);
    await other.publish(Count, 0);
    await other.runUntilIdle();
    expect((await other.store.list({ type: Count })).map((a) => a.payload)).toEqual([0, 1, 2, 3]);
  });

  it('chains agents: outputs are published and schedule the next agent in the same workflow', async () => {
    await using board = new Board();
    board.agent('chef').consumes(Idea).publishes(Pizza).handle(([idea]) => ({ name: idea.payload.topic }));
    board.agent('critic').consumes(Pizza).publishes(Review).handle(([pizza]) => ({ stars: pizza.payload.name.length > 3 ? 5 : 2 }));
    const idea = await board.publish(Idea, { topic: 'quattro' });
    await board.runUntilIdle();
    const [review] = await board.store.list({ type: Review });
    expect(review).toMatchObject({ payload: { stars: 5 }, correlationId: idea.correlationId, producedBy: 'critic' });
  });

  it('publishes each element of an array as its own artifact with fanOut, and fails a run that exceeds it', async () => {
    await using board = new Board();
    board.agent('oven').consumes(Idea).publishes(Pizza, { fanOut: 3 }).handle(([idea]) =>
      Array.from({ length: idea.payload.topic.length }, (_, i) => ({ name: `${idea.payload.topic}-${i}` })),
    );
    await board.publish(Idea, { topic: 'ab' });
    await board.publish(Idea, { topic: 'abcd' });
    await board.runUntilIdle();
    expect((await board.store.list({ type: Pizza })).map((p) => p.payload.name)).toEqual(['ab-0', 'ab-1']);
    const [failure] = await board.deadLetters();
    expect(failure?.error).toMatchObject({ name: 'OutputError' });
  });

  it('needs drafts to tell types apart when an agent publishes several', async () => {
    await using board = new Board();
    board
      .agent('both')
      .consumes(Idea)
      .publishes(Pizza)
      .publishes(Review)
      .handle(([idea]) => [Pizza.draft({ name: idea.payload.topic }), Review.draft({ stars: 3 }, { tags: ['auto'] })]);
    board.agent('confused').consumes(Review).publishes(Pizza).publishes(Idea).handle(() => ({ name: 'x' }));
    await board.publish(Idea, { topic: 'x' });
    await board.runUntilIdle();
    expect((await board.store.list({ type: Pizza })).length).toBe(1);
    expect((await board.store.list({ type: Review }))[0]?.tags).toEqual(['auto']);
    const letters = await board.deadLetters({ agent: 'confused' });
    expect(letters[0]?.error.message).toMatch(/several types/);
  });

  it('fails a run that publishes a type it did not declare, or its own type with an invalid payload', async () => {
    await using board = new Board();
    board.agent('rogue').consumes(Idea).handle(async (_inputs, ctx) => {
      await ctx.publish(Review, { stars: 3 });
    });
    board.agent('sloppy').consumes(Idea).publishes(Review).handle(() => ({ stars: 11 }));
    await board.publish(Idea, { topic: 'x' });
    await board.runUntilIdle();
    const errors = (await board.deadLetters()).map((d) => [d.run.agent, d.error.name]).sort();
    expect(errors).toEqual([
      ['rogue', 'OutputError'],
      ['sloppy', 'ValidationError'],
    ]);
    expect(await board.store.list({ type: Review })).toEqual([]);
    expect(OutputError.name).toBe('OutputError');
  });

  it('publishes from ctx.publish at once, within the run\'s workflow', async () => {
    await using board = new Board();
    const order: string[] = [];
    board.agent('critic').consumes(Review).handle(() => {
      order.push('critic ran');
    });
    board.agent('chef').consumes(Idea).publishes(Review).handle(async ([idea], ctx) => {
      const review = await ctx.publish(Review, { stars: 4 });
      order.push(`published ${review.correlationId === idea.correlationId}`);
    });
    await board.publish(Idea, { topic: 'x' });
    await board.runUntilIdle();
    expect(order.sort()).toEqual(['critic ran', 'published true']);
  });

  it('publishes each yield of an async generator body at once', async () => {
    await using board = new Board();
    const release = gate();
    const seenWhileStreaming: string[] = [];
    board.agent('taster').consumes(Pizza).handle(([pizza]) => {
      seenWhileStreaming.push(pizza.payload.name);
      if (pizza.payload.name === 'first') release.open();
    });
    board
      .agent('stream')
      .consumes(Idea)
      .publishes(Pizza)
      .handle(async function* () {
        yield { name: 'first' };
        await release.promise; // the first yield was published and consumed before the body goes on
        yield { name: 'second' };
      });
    await board.publish(Idea, { topic: 'x' });
    await board.runUntilIdle();
    expect(seenWhileStreaming).toEqual(['first', 'second']);
  });

  it('feeds each engine\'s output to the next and publishes the last one\'s', async () => {
    await using board = new Board();
    board
      .agent('pipeline')
      .consumes(Idea)
      .publishes(Pizza)
      .engine(([idea]) => idea.payload.topic)
      .engine({ name: 'upper', evaluate: (topic: string) => topic.toUpperCase() })
      .handle((topic) => ({ name: `${topic}!` }));
    board.agent('engines-only').consumes(Review).publishes(Pizza).engine(([r]) => ({ name: `stars ${r.payload.stars}` })).handle();
    await board.publish(Idea, { topic: 'diavola' });
    await board.publish(Review, { stars: 2 });
    await board.runUntilIdle();
    expect((await board.store.list({ type: Pizza })).map((p) => p.payload.name).sort()).toEqual(['DIAVOLA!', 'stars 2']);
  });

  it('lets an agent read the board through its context', async () => {
    await using board = new Board();
    let seen: Artifact[] = [];
    board.agent('reader').consumes(Review).handle(async ([review], ctx) => {
      seen = await ctx.board.list({ correlationId: review.correlationId });
      expect(await ctx.board.get(review.id)).toEqual(review);
      expect(await ctx.board.get('missing')).toBeUndefined();
    });
    await board.publish(Idea, { topic: 'x' }, { correlationId: 'c' });
    await board.publish(Review, { stars: 1 }, { correlationId: 'c' });
    await board.runUntilIdle();
    expect(seen.map((a) => a.type)).toEqual(['Idea', 'Review']);
  });
});

describe('Board: agent declarations', () => {
  it('rejects invalid declarations with errors that say what is allowed', async () => {
    await using board = new Board();
    expect(() => board.agent('')).toThrow(TypeError);
    expect(() => board.agent('external')).toThrow(/reserved/);
    board.agent('dup');
    expect(() => board.agent('dup')).toThrow(/already exists/);
    const b = () => board.agent(`a${Math.random()}`);
    expect(() => b().consumes({} as never)).toThrow(/artifactType/);
    expect(() => b().consumes([])).toThrow(/at least one/);
    expect(() => b().consumes(Idea, { batch: { size: 0 } })).toThrow(/batch size/);
    expect(() => b().consumes(Idea, { batch: {} })).toThrow(/size, a timeoutMs/);
    expect(() => b().consumes([Idea, Pizza], { batch: { size: 2 } })).toThrow(/exactly one type/);
    expect(() => b().consumes(Idea, { join: { withinMs: 5 } })).toThrow(/at least two/);
    expect(() => b().consumes([Idea, Pizza], { join: { withinMs: -1 } })).toThrow(/withinMs/);
    expect(() => b().consumes(Idea, { where: 1 } as never)).toThrow(/where/);
    expect(() => b().consumes(Idea, { wehre: () => true } as never)).toThrow(/unknown consumes option 'wehre'/);
    expect(() => b().consumes(Idea, { from: [] })).toThrow(/from/);
    expect(() => b().publishes(Pizza, { fanOut: 0 })).toThrow(/fanOut/);
    expect(() => b().maxConcurrency(0)).toThrow('maxConcurrency must be an integer >= 1, got 0');
    expect(() => b().queueCapacity(1.5)).toThrow(/queueCapacity/);
    expect(() => b().maxRuns(0)).toThrow(/maxRuns/);
    expect(() => b().bestOf(0, () => 1)).toThrow(/bestOf n/);
    expect(() => b().bestOf(2, 'x' as never)).toThrow(/score/);
    expect(() => b().retry({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => b().timeout(-5)).toThrow(/timeout/);
    expect(() => b().engine(5 as never)).toThrow(/engine/);
    expect(() => b().use({ preConsume: 'x' } as never)).toThrow(/preConsume/);
    expect(() => b().tenant('')).toThrow(/tenant/);
    expect(() => b().handle(() => {})).toThrow(/consumes nothing/);
    expect(() => b().consumes(Idea).handle()).toThrow(/neither engines nor a body/);
    const sealed = b().consumes(Idea);
    sealed.handle(() => {});
    expect(() => sealed.maxConcurrency(2)).toThrow(/already registered/);
  });

  it('validates board options and components', () => {
    expect(() => new Board({ queueCapacity: 0 })).toThrow(/queueCapacity/);
    expect(() => new Board({ maxRunsPerWorkflow: -1 })).toThrow(/maxRunsPerWorkflow/);
    expect(() => new Board({ store: {} as never })).toThrow(/BoardStore/);
    expect(() => new Board('x' as never)).toThrow(TypeError);
    const board = new Board();
    expect(() => board.use({ onPublish: 3 } as never)).toThrow(/onPublish/);
    expect(() => board.workflow('')).toThrow(/correlationId/);
    return board.shutdown();
  });
});

describe('Board: hooks and components', () => {
  it('runs lifecycle hooks in order of priority, then of registration', async () => {
    const calls: string[] = [];
    const board = new Board();
    const hooks = (name: string, priority?: number) => ({
      name,
      priority,
      initialize: () => void calls.push(`${name}:initialize`),
      preConsume: () => void calls.push(`${name}:preConsume`),
      preEvaluate: () => void calls.push(`${name}:preEvaluate`),
      postEvaluate: () => void calls.push(`${name}:postEvaluate`),
      postPublish: (artifacts: readonly Artifact[]) => void calls.push(`${name}:postPublish(${artifacts.length})`),
      terminate: () => void calls.push(`${name}:terminate`),
    });
    board
      .agent('chef')
      .consumes(Idea)
      .publishes(Pizza)
      .use(hooks('late', 10))
      .use(hooks('first', -1))
      .use(hooks('second'))
      .handle(([idea]) => {
        calls.push('body');
        return { name: idea.payload.topic };
      });
    await board.publish(Idea, { topic: 'x' });
    await board.runUntilIdle();
    await board.shutdown();
    const stage = (s: string) => calls.filter((c) => c.endsWith(s) || c.includes(`${s}(`));
    expect(stage('initialize')).toEqual(['first:initialize', 'second:initialize', 'late:initialize']);
    expect(calls.indexOf('late:preEvaluate')).toBeLessThan(calls.indexOf('body'));
    expect(calls.indexOf('body')).toBeLessThan(calls.indexOf('first:postEvaluate'));
    expect(stage('postPublish')).toEqual(['first:postPublish(1)', 'second:postPublish(1)', 'late:postPublish(1)']);
    expect(calls.slice(-3)).toEqual(['first:terminate', 'second:terminate', 'late:terminate']);
  });

  it('lets hooks replace inputs and outputs, and skips a run whose preConsume leaves no inputs', async () => {
    await using board = new Board();
    board
      .agent('chef')
      .consumes(Idea)
      .publishes(Pizza)
      .use({
        preConsume: (inputs) => inputs.filter((input) => (input.payload as { topic: string }).topic !== 'skip'),
        postEvaluate: (drafts) => drafts.map((draft) => Pizza.draft({ name: `${(draft.payload as { name: string }).name}+basil` })),
      })
      .handle(([idea]) => ({ name: idea.payload.topic }));
    await board.publish(Idea, { topic: 'skip' });
    await board.publish(Idea, { topic: 'keep' });
    await board.runUntilIdle();
    expect((await board.store.list({ type: Pizza })).map((p) => p.payload.name)).toEqual(['keep+basil']);
    expect(board.stats().agents.chef).toMatchObject({ done: 2, failed: 0 });
  });

  it('initializes an agent once even when its first runs start together, and retries a failed initialize', async () => {
    await using board = new Board();
    let initializations = 0;
    board
      .agent('lazy')
      .consumes(Idea)
      .maxConcurrency(4)
      .use({
        initialize: async () => {
          initializations++;
          if (initializations === 1) throw new Error('cold start');
        },
      })
      .handle(() => {});
    await board.publishMany(Idea, [{ topic: 'a' }, { topic: 'b' }, { topic: 'c' }]);
    await board.runUntilIdle();
    expect(initializations).toBe(2);
    expect(board.stats().agents.lazy).toMatchObject({ done: 2, failed: 1 });
  });

  it('lets an onPublish component transform or block an artifact before it is stored', async () => {
    await using board = new Board();
    const events = board.events();
    board.use({ onPublish: (artifact) => (artifact.type === 'Idea' ? { ...artifact, payload: { topic: 'censored' }, tags: ['checked'] } : undefined) });
    board.use({ priority: -1, onPublish: (artifact) => ((artifact.payload as { stars?: number }).stars === 1 ? { block: 'too harsh' } : undefined) });
    const idea = await board.publish(Idea, { topic: 'secret' });
    expect(idea.payload).toEqual({ topic: 'censored' });
    expect(idea.tags).toEqual(['checked']);
    const error = await board.publish(Review, { stars: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishBlockedError);
    expect((error as PublishBlockedError).reason).toBe('too harsh');
    expect(await board.store.list({ type: Review })).toEqual([]);
    const seen = await collect(events, (e) => e.kind === 'blocked');
    expect(seen.at(-1)).toMatchObject({ kind: 'blocked', type: 'Review', reason: 'too harsh' });
  });

  it('re-validates a payload a component changed', async () => {
    await using board = new Board();
    board.use({ onPublish: (artifact) => ({ ...artifact, payload: { stars: 99 } }) });
    await expect(board.publish(Review, { stars: 3 })).rejects.toThrow(ValidationError);
  });

  it('lets a beforeSchedule component continue, skip or defer a run', async () => {
    await using board = new Board();
    const ran: string[] = [];
    let deferrals = 0;
    board.use({
      beforeSchedule: ({ inputs }) => {
        const topic = (inputs[0]!.payload as { topic: string }).topic;
        if (topic === 'skip') return 'skip';
        if (topic === 'later' && deferrals++ < 2) return { deferMs: 1 };
        return 'continue';
      },
    });
    board.agent('chef').consumes(Idea).handle(([idea]) => {
      ran.push(idea.payload.topic);
    });
    await board.publishMany(Idea, [{ topic: 'skip' }, { topic: 'later' }, { topic: 'now' }]);
    await board.runUntilIdle();
    expect(ran).toEqual(['now', 'later']);
    expect(deferrals).toBe(3);
  });

  it('calls onIdle components when the board becomes idle, and work they publish continues', async () => {
    await using board = new Board();
    let idles = 0;
    board.use({
      onIdle: async () => {
        idles++;
        if (idles === 1) await board.publish(Review, { stars: 5 });
      },
    });
    const reviewed: number[] = [];
    board.agent('critic').consumes(Review).handle(([r]) => {
      reviewed.push(r.payload.stars);
    });
    await board.publish(Idea, { topic: 'x' });
    await board.runUntilIdle();
    expect(reviewed).toEqual([5]);
    expect(idles).toBe(2);
  });
});

describe('Board: concurrency and backpressure', () => {
  it('takes the permit before building a run\'s context: hooks never run beyond maxConcurrency', async () => {
    await using board = new Board();
    let building = 0;
    let peak = 0;
    board
      .agent('guarded')
      .consumes(Idea)
      .maxConcurrency(2)
      .use({
        preConsume: async () => {
          peak = Math.max(peak, ++building);
          await new Promise((resolve) => setImmediate(resolve));
        },
        postPublish: () => {
          building--;
        },
      })
      .handle(() => {});
    await board.publishMany(Idea, Array.from({ length: 10 }, (_, i) => ({ topic: String(i) })));
    await board.runUntilIdle();
    expect(peak).toBe(2);
  });

  it('changes an agent\'s concurrency limit while it runs', async () => {
    await using board = new Board();
    const waiting: (() => void)[] = [];
    board.agent('worker').consumes(Idea).maxConcurrency(1).handle(() => new Promise<void>((resolve) => waiting.push(resolve)));
    await board.publishMany(Idea, Array.from({ length: 5 }, (_, i) => ({ topic: String(i) })));
    await new Promise((resolve) => setImmediate(resolve));
    expect(board.stats().agents.worker).toMatchObject({ running: 1, queued: 4, maxConcurrency: 1 });
    board.setMaxConcurrency('worker', 3);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(board.stats().agents.worker).toMatchObject({ running: 3, queued: 2, maxConcurrency: 3 });
    expect(() => board.setMaxConcurrency('nobody', 2)).toThrow(RangeError);
    expect(() => board.setMaxConcurrency('worker', 0)).toThrow(RangeError);
    while (board.stats().agents.worker!.done < 5) {
      waiting.splice(0).forEach((resolve) => resolve());
      await new Promise((resolve) => setImmediate(resolve));
    }
    await board.runUntilIdle();
  });

  it('never runs more than maxConcurrency runs of an agent at once', async () => {
    await using board = new Board();
    let running = 0;
    let peak = 0;
    board.agent('slow').consumes(Idea).maxConcurrency(3).handle(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
    });
    await board.publishMany(Idea, Array.from({ length: 20 }, (_, i) => ({ topic: String(i) })));
    await board.runUntilIdle();
    expect(peak).toBe(3);
    expect(board.stats().agents.slow?.done).toBe(20);
  });

  it('makes publish wait while a consuming agent\'s queue is full, and go on when it drains', async () => {
    await using board = new Board();
    const release = gate();
    board.agent('slow').consumes(Idea).queueCapacity(2).handle(() => release.promise);
    await board.publish(Idea, { topic: '1' }); // running
    await board.publish(Idea, { topic: '2' }); // queued
    await board.publish(Idea, { topic: '3' }); // queued: the queue is now full
    let fourth = false;
    const waiting = board.publish(Idea, { topic: '4' }).then(() => (fourth = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(fourth).toBe(false);
    expect(await board.store.list({ type: Idea })).toHaveLength(3); // nothing stored while waiting
    expect(board.stats().agents.slow).toMatchObject({ queued: 2, running: 1 });
    release.open();
    await waiting;
    await board.runUntilIdle();
    expect(board.stats().agents.slow?.done).toBe(4);
  });

  it('keeps the queue bounded under many concurrent publishers, and serves them all', async () => {
    await using board = new Board();
    let peakQueued = 0;
    board.agent('slow').consumes(Idea).queueCapacity(4).maxConcurrency(2).handle(async () => {
      peakQueued = Math.max(peakQueued, board.stats().agents.slow!.queued);
      await new Promise((resolve) => setImmediate(resolve));
    });
    await Promise.all(Array.from({ length: 200 }, (_, i) => board.publish(Idea, { topic: String(i) })));
    await board.runUntilIdle();
    expect(board.stats().agents.slow?.done).toBe(200);
    expect(peakQueued).toBeLessThanOrEqual(4);
  });

  it('lets a waiting publish be aborted by its signal, storing nothing', async () => {
    await using board = new Board();
    const release = gate();
    board.agent('slow').consumes(Idea).queueCapacity(1).handle(() => release.promise);
    await board.publish(Idea, { topic: '1' });
    await board.publish(Idea, { topic: '2' });
    const controller = new AbortController();
    const waiting = board.publish(Idea, { topic: '3' }, { signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    release.open();
    await board.runUntilIdle();
    expect(await board.store.list({ type: Idea })).toHaveLength(2);
  });

  it('propagates backpressure along a chain: a run waits to publish into a full downstream queue', async () => {
    await using board = new Board();
    const release = gate();
    let chefRuns = 0;
    board.agent('chef').consumes(Idea).publishes(Pizza).maxConcurrency(10).handle(([idea]) => {
      chefRuns++;
      return { name: idea.payload.topic };
    });
    board.agent('eater').consumes(Pizza).queueCapacity(2).handle(() => release.promise);
    const publishing = board.publishMany(Idea, Array.from({ length: 10 }, (_, i) => ({ topic: String(i) })));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    const { eater, chef } = board.stats().agents;
    expect(eater!.queued).toBeLessThanOrEqual(2);
    expect(chef!.running).toBeGreaterThan(0); // chef runs hold their slot while they wait
    expect(chefRuns).toBeLessThan(10 + 1);
    release.open();
    await publishing;
    await board.runUntilIdle();
    expect(board.stats().agents.eater?.done).toBe(10);
  });

  it('does not deadlock on a cycle of agents with full queues', async () => {
    const Ping = artifactType('Ping', z.number());
    const Pong = artifactType('Pong', z.number());
    await using board = new Board();
    board.agent('ping').consumes(Ping).publishes(Pong, { fanOut: 2 }).queueCapacity(1).maxConcurrency(1).handle(([p]) => (p.payload < 5 ? [p.payload + 1, p.payload + 1] : []) as never);
    board.agent('pong').consumes(Pong).publishes(Ping).publishes(Pong).queueCapacity(1).handle(([p]) => Ping.draft(p.payload));
    await board.publishMany(Ping, [0, 0]);
    await board.runUntilIdle({ timeoutMs: 5_000 });
    expect(board.stats().agents.pong!.done).toBeGreaterThan(0);
  });
});

describe('Board: runUntilIdle', () => {
  it('resolves at once on an idle board and waits for work in flight otherwise', async () => {
    await using board = new Board();
    await board.runUntilIdle();
    const release = gate();
    board.agent('slow').consumes(Idea).handle(() => release.promise);
    void board.publish(Idea, { topic: 'x' }); // not awaited: a publish in progress counts as work
    let idle = false;
    const waiting = board.runUntilIdle().then(() => (idle = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).toBe(false);
    release.open();
    await waiting;
    expect(board.stats()).toMatchObject({ idle: true, published: 1 });
  });

  it('rejects with a TimeoutError after timeoutMs and with the reason when its signal aborts', async () => {
    await using board = new Board();
    const release = gate();
    board.agent('slow').consumes(Idea).handle(() => release.promise);
    await board.publish(Idea, { topic: 'x' });
    await expect(board.runUntilIdle({ timeoutMs: 5 })).rejects.toMatchObject({ name: 'TimeoutError' });
    const controller = new AbortController();
    const waiting = board.runUntilIdle({ signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(() => board.runUntilIdle({ timeoutMs: -1 })).toThrow(RangeError);
    release.open();
    await board.runUntilIdle();
  });

  it('emits one idle event per transition to idle', async () => {
    await using board = new Board();
    board.agent('a').consumes(Idea).handle(() => {});
    const events = board.events();
    await board.publish(Idea, { topic: 'x' });
    await board.runUntilIdle();
    await board.runUntilIdle();
    await board.publish(Idea, { topic: 'y' });
    await board.runUntilIdle();
    await board.shutdown();
    const kinds: string[] = [];
    for await (const event of events) kinds.push(event.kind);
    expect(kinds.filter((k) => k === 'idle')).toHaveLength(2);
  });
});

describe('Board: shutdown', () => {
  it('aborts runs in flight, cancels queued ones, and leaves nothing running and no timer', async () => {
    const board = new Board();
    let aborted = 0;
    board.agent('stuck').consumes(Idea).maxConcurrency(2).handle(
      (_inputs, ctx) =>
        new Promise<void>((_, reject) =>
          ctx.signal.addEventListener('abort', () => {
            aborted++;
            reject(ctx.signal.reason);
          }),
        ),
    );
    board.agent('batcher').consumes(Review, { batch: { size: 10, timeoutMs: 60_000 } }).handle(() => {});
    const events = board.events();
    await board.publishMany(Idea, [{ topic: '1' }, { topic: '2' }, { topic: '3' }]);
    await board.publish(Review, { stars: 3 }); // a batch waiting on its timer
    await new Promise((resolve) => setImmediate(resolve));
    await board.shutdown();
    expect(aborted).toBe(2);
    expect(board.stats().agents.stuck).toMatchObject({ running: 0, queued: 0, cancelled: 3, failed: 0 });
    const kinds: string[] = [];
    for await (const event of events) kinds.push(event.kind);
    expect(kinds.filter((k) => k === 'cancelled')).toHaveLength(3);
    expect(kinds).not.toContain('failed');
    expect(await board.store.list({ type: 'AgentFailed' })).toEqual([]);
    await expect(board.publish(Idea, { topic: 'late' })).rejects.toThrow(BoardClosedError);
    expect(() => board.agent('late')).toThrow(BoardClosedError);
    await expect(board.runUntilIdle()).rejects.toThrow(BoardClosedError);
    await board.shutdown(); // idempotent
  });

  it('fails publishers waiting for queue space and idle waiters when it shuts down', async () => {
    const board = new Board();
    board.agent('stuck').consumes(Idea).queueCapacity(1).handle((_i, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))));
    await board.publish(Idea, { topic: '1' });
    await board.publish(Idea, { topic: '2' });
    const waiting = board.publish(Idea, { topic: '3' });
    const idle = board.runUntilIdle();
    await new Promise((resolve) => setImmediate(resolve));
    await board.shutdown();
    await expect(waiting).rejects.toThrow(BoardClosedError);
    await expect(idle).rejects.toThrow(BoardClosedError);
  });

  it('gives runs that ignore their signal the grace period, then reports them', async () => {
    const reports: number[] = [];
    const board = new Board({ graceMs: 20, onStraggler: (report) => reports.push(report.pending) });
    const release = gate();
    board.agent('deaf').consumes(Idea).handle(() => release.promise);
    await board.publish(Idea, { topic: 'x' });
    await new Promise((resolve) => setImmediate(resolve));
    await board.shutdown();
    expect(reports.length).toBe(1);
    release.open();
  });

  it('works with await using', async () => {
    let signal: AbortSignal | undefined;
    {
      await using board = new Board();
      signal = board.signal;
      expect(signal.aborted).toBe(false);
    }
    expect(signal.aborted).toBe(true);
  });

  it('uses the store it is given', async () => {
    const store = new MemoryStore();
    await using board = new Board({ store });
    expect(board.store).toBe(store);
  });
});
