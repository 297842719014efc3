import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Board, MemoryStore, Schedule, TimerTick, artifactType, type TimerTickPayload } from 'skein/board';

const Report = artifactType('Report', z.object({ tick: z.number(), scheduledAt: z.string() }));

afterEach(() => {
  vi.useRealTimers();
});

/** Ticks seen by a scheduled agent, as `ctx.timer` reported them. */
function recorder(): { ticks: TimerTickPayload[]; body: (inputs: unknown, ctx: { timer?: TimerTickPayload | undefined }) => void } {
  const ticks: TimerTickPayload[] = [];
  return { ticks, body: (_inputs, ctx) => void ticks.push(ctx.timer!) };
}

describe('timers on a board', () => {
  it('runs a scheduled agent every interval, each run knowing its tick and its scheduled time', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const { ticks, body } = recorder();
    board.agent('heartbeat').schedule({ every: 100 }).handle(body);
    await board.runUntilIdle(); // a timer is not work: idle at once
    expect(ticks).toEqual([]);
    await vi.advanceTimersByTimeAsync(350);
    await board.runUntilIdle();
    expect(ticks).toEqual([
      { timer: 'heartbeat', tick: 1, scheduledAt: new Date(100).toISOString() },
      { timer: 'heartbeat', tick: 2, scheduledAt: new Date(200).toISOString() },
      { timer: 'heartbeat', tick: 3, scheduledAt: new Date(300).toISOString() },
    ]);
    const stored = await board.store.list({ type: TimerTick });
    expect(stored.map((tick) => [tick.producedBy, tick.correlationId])).toEqual([
      ['board', 'timer:heartbeat:1'],
      ['board', 'timer:heartbeat:2'],
      ['board', 'timer:heartbeat:3'],
    ]);
  });

  it('publishes what the scheduled agent returns, like any agent', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    board
      .agent('reporter')
      .schedule({ every: 1_000, after: 10 })
      .publishes(Report)
      .handle((_inputs, ctx) => ({ tick: ctx.timer!.tick, scheduledAt: ctx.timer!.scheduledAt }));
    await vi.advanceTimersByTimeAsync(1_010);
    await board.runUntilIdle();
    const reports = await board.store.list({ type: Report });
    expect(reports.map((r) => r.payload)).toEqual([
      { tick: 1, scheduledAt: new Date(10).toISOString() },
      { tick: 2, scheduledAt: new Date(1_010).toISOString() },
    ]);
  });

  it('stops after maxRepeats ticks, and fires a lone `after` once', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const limited = recorder();
    const once = recorder();
    board.agent('three').schedule({ every: 10, maxRepeats: 3 }).handle(limited.body);
    board.agent('once').schedule({ after: 25 }).handle(once.body);
    await vi.advanceTimersByTimeAsync(1_000);
    await board.runUntilIdle();
    expect(limited.ticks.map((t) => t.tick)).toEqual([1, 2, 3]);
    expect(once.ticks).toEqual([{ timer: 'once', tick: 1, scheduledAt: new Date(25).toISOString() }]);
    expect(await board.store.listTimers!()).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'three', ticks: 3, nextDueAt: undefined }), expect.objectContaining({ name: 'once', ticks: 1, nextDueAt: undefined })]),
    );
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ticks at a time of day in a named time zone', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-01T00:00:00Z') });
    await using board = new Board();
    const { ticks, body } = recorder();
    board.agent('morning').schedule({ at: '09:00', timeZone: 'America/New_York' }).handle(body);
    await vi.advanceTimersByTimeAsync(2 * 86_400_000);
    await board.runUntilIdle();
    expect(ticks.map((t) => t.scheduledAt)).toEqual(['2026-12-01T14:00:00.000Z', '2026-12-02T14:00:00.000Z']);
  });

  it('ticks on a cron expression (croner) in a time zone', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-04T00:00:00Z') }); // a Friday
    await using board = new Board();
    const { ticks, body } = recorder();
    board.agent('weekdays').schedule({ cron: '30 8 * * 1-5', timeZone: 'Europe/Paris' }).handle(body);
    await vi.advanceTimersByTimeAsync(4 * 86_400_000);
    await board.runUntilIdle();
    // Friday, then Monday (the weekend skipped); 08:30 in Paris is 07:30 UTC in winter.
    expect(ticks.map((t) => t.scheduledAt)).toEqual(['2026-12-04T07:30:00.000Z', '2026-12-07T07:30:00.000Z']);
  });

  it('reaches a slot further than setTimeout can wait (24.8 days) by re-arming', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const { ticks, body } = recorder();
    const day = 86_400_000;
    board.agent('monthly').schedule({ every: 40 * day }).handle(body);
    await vi.advanceTimersByTimeAsync(30 * day);
    expect(ticks).toEqual([]);
    await vi.advanceTimersByTimeAsync(10 * day);
    await board.runUntilIdle();
    expect(ticks.map((t) => t.scheduledAt)).toEqual([new Date(40 * day).toISOString()]);
  });

  it('counts a due tick as work until its run ends: runUntilIdle waits for it, never for the next slot', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    let release!: () => void;
    const ran: number[] = [];
    board
      .agent('slow')
      .schedule({ every: 100 })
      .handle(async (_inputs, ctx) => {
        await new Promise<void>((resolve) => (release = resolve));
        ran.push(ctx.timer!.tick);
      });
    await vi.advanceTimersByTimeAsync(100);
    let idle = false;
    const waiting = board.runUntilIdle().then(() => (idle = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(idle).toBe(false);
    release();
    await waiting;
    expect(ran).toEqual([1]);
  });

  it('records a failed tick as a dead letter, which replays with the same tick', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    let fail = true;
    const ran: number[] = [];
    board
      .agent('flaky')
      .schedule({ after: 10 })
      .handle((_inputs, ctx) => {
        if (fail) throw new Error('down');
        ran.push(ctx.timer!.tick);
      });
    await vi.advanceTimersByTimeAsync(10);
    await board.runUntilIdle();
    const [letter] = await board.deadLetters();
    expect(letter?.run).toMatchObject({ agent: 'flaky', correlationId: 'timer:flaky:1' });
    fail = false;
    await board.replayDeadLetter(letter!.id);
    await board.runUntilIdle();
    expect(ran).toEqual([1]);
  });

  it('leaves no timer behind at shutdown', async () => {
    vi.useFakeTimers({ now: 0 });
    const board = new Board();
    board.agent('a').schedule({ every: 10 }).handle(() => {});
    board.agent('b').schedule({ cron: '* * * * *' }).handle(() => {});
    await vi.advanceTimersByTimeAsync(25);
    await board.shutdown();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('missed ticks', () => {
  /** A store whose timer `name` was left with slots passed: as a board finds it after being down. */
  async function downFor(missed: 'skip' | 'once' | 'all', toleranceMs?: number): Promise<TimerTickPayload[]> {
    vi.useFakeTimers({ now: 0 });
    const store = new MemoryStore();
    const schedule = { every: 100, missed, ...(toleranceMs === undefined ? {} : { toleranceMs }) };
    {
      await using first = new Board({ store });
      first.agent('job').schedule(schedule).handle(() => {});
      await vi.advanceTimersByTimeAsync(150); // tick 1 at 100; then the board goes down
      await first.runUntilIdle();
    }
    vi.setSystemTime(1_080); // slots 200 .. 1000 passed while no board ran
    await using second = new Board({ store });
    const { ticks, body } = recorder();
    second.agent('job').schedule(schedule).handle(body);
    await vi.advanceTimersByTimeAsync(0);
    await second.runUntilIdle();
    await vi.advanceTimersByTimeAsync(100);
    await second.runUntilIdle();
    return ticks;
  }

  it("'once' (the default) fires one tick for the missed slots, then goes on from the next slot", async () => {
    const ticks = await downFor('once');
    expect(ticks.map((t) => [t.tick, t.scheduledAt])).toEqual([
      [2, new Date(200).toISOString()],
      [3, new Date(1_100).toISOString()],
    ]);
  });

  it("'all' fires one tick per missed slot, in order", async () => {
    const ticks = await downFor('all');
    expect(ticks.map((t) => t.tick)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(ticks.map((t) => Date.parse(t.scheduledAt))).toEqual([200, 300, 400, 500, 600, 700, 800, 900, 1_000, 1_100]);
  });

  it("'skip' drops the slots missed by more than toleranceMs and goes on from the next one", async () => {
    const ticks = await downFor('skip', 50);
    expect(ticks.map((t) => [t.tick, t.scheduledAt])).toEqual([[2, new Date(1_100).toISOString()]]);
  });
});

describe('timers of a workflow', () => {
  it('run in the workflow, pause with it (a slot passed meanwhile is a missed one) and end when it is cancelled', async () => {
    vi.useFakeTimers({ now: 0 });
    await using board = new Board();
    const { ticks, body } = recorder();
    const seen: string[] = [];
    board
      .agent('poll')
      .schedule({ every: 100, workflow: 'order-7' })
      .handle((inputs, ctx) => {
        seen.push(ctx.correlationId);
        body(inputs, ctx);
      });
    await vi.advanceTimersByTimeAsync(100);
    await board.runUntilIdle();
    await board.workflow('order-7').pause();
    await vi.advanceTimersByTimeAsync(250); // slots 200 and 300 pass while paused
    await board.runUntilIdle();
    expect(ticks.map((t) => t.tick)).toEqual([1]);
    await board.workflow('order-7').resume();
    await vi.advanceTimersByTimeAsync(0);
    await board.runUntilIdle();
    expect(ticks.map((t) => [t.tick, t.scheduledAt])).toEqual([
      [1, new Date(100).toISOString()],
      [2, new Date(200).toISOString()], // missed: 'once'
    ]);
    await board.workflow('order-7').cancel();
    await vi.advanceTimersByTimeAsync(1_000);
    await board.runUntilIdle();
    expect(ticks).toHaveLength(2);
    expect(seen).toEqual(['order-7', 'order-7']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('schedule options', () => {
  it('are checked when declared, unknown keys named', async () => {
    await using board = new Board();
    const agent = () => board.agent(`a${Math.random()}`);
    expect(() => agent().schedule({ evry: 10 } as never)).toThrow(/schedule has no option "evry"; its options are every, after, at, cron/);
    expect(() => agent().schedule({})).toThrow(TypeError);
    expect(() => agent().schedule({ every: 0 })).toThrow(RangeError);
    expect(() => agent().schedule({ every: 10, cron: '* * * * *' })).toThrow(/one recurrence, got every and cron/);
    expect(() => agent().schedule({ at: '25:00' })).toThrow(TypeError);
    expect(() => agent().schedule({ at: '09:00', timeZone: 'Mars/Olympus' })).toThrow(/IANA time zone/);
    expect(() => agent().schedule({ cron: 'every day' })).toThrow(/not a valid cron expression/);
    expect(() => agent().schedule({ every: 10, missed: 'some' as never })).toThrow(/missed must be one of 'skip', 'once', 'all'/);
    expect(() => agent().schedule({ every: 10, maxRepeats: 0 })).toThrow(RangeError);
    expect(() => agent().schedule({ every: 10, timeZone: 'UTC' })).toThrow(/timeZone applies to at/);
    expect(() => agent().schedule({ every: 10 }).schedule({ every: 20 })).toThrow(/already has a schedule/);
    expect(() => board.agent('none').handle(() => {})).toThrow(/consumes\(Type\) or schedule\(options\)/);
  });

  it('need a store that keeps timers', async () => {
    const store = new MemoryStore() as unknown as Record<string, unknown>;
    const bare = new Proxy(store, { get: (target, key) => (key === 'registerTimer' ? undefined : (Reflect.get(target, key) as unknown)) });
    await using board = new Board({ store: bare as never });
    expect(() => board.agent('t').schedule({ every: 10 }).handle(() => {})).toThrow(/keeps no timers: registerTimer\(\) is missing/);
  });

  it('plan each missed-slot policy as pure arithmetic', () => {
    expect(Schedule.from({ every: 100 }).plan(100, 550, 0)).toEqual({ fire: 100, nextDue: 600 });
    expect(Schedule.from({ every: 100, missed: 'all' }).plan(100, 550, 0)).toEqual({ fire: 100, nextDue: 200 });
    expect(Schedule.from({ every: 100, missed: 'skip' }).plan(100, 5_550, 0)).toEqual({ fire: 4_600, nextDue: 4_700 });
    expect(Schedule.from({ every: 100, missed: 'skip', toleranceMs: 10 }).plan(100, 555, 0)).toEqual({ fire: undefined, nextDue: 600 });
    expect(Schedule.from({ every: 100, maxRepeats: 2 }).plan(200, 200, 1)).toEqual({ fire: 200, nextDue: undefined });
  });
});

describe('firing one timer from many boards, under any interleaving', () => {
  it('applies each tick once: a fire built on a stale read is refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 4 }), async (s, boards, rounds) => {
        const store = new MemoryStore();
        const schedule = Schedule.from({ every: 100, missed: 'all' });
        store.registerTimer({ name: 'clock', fingerprint: schedule.fingerprint, firstDueAt: schedule.first(0) });
        const now = 100 * rounds; // `rounds` slots are due
        let applied = 0;
        // Each board reads the due timer, plans, and fires, as the timer stage does, with any interleaving between reads and writes.
        const firing = Array.from({ length: boards }, async (_, b) => {
          for (let pass = 0; pass < rounds + 1; pass++) {
            await s.schedule(Promise.resolve(), `board ${b} reads`);
            const [timer] = store.dueTimers(['clock'], now, 1);
            if (timer === undefined) return;
            const plan = schedule.plan(timer.nextDueAt!, now, timer.ticks);
            await s.schedule(Promise.resolve(), `board ${b} fires tick ${timer.ticks + 1}`);
            const tick = timer.ticks + 1;
            const artifact = { id: `tick-${b}-${pass}`, type: 'TimerTick', payload: { tick }, producedBy: 'board', correlationId: `timer:clock:${tick}`, tags: [], visibility: { kind: 'public' as const }, createdAt: new Date(now).toISOString(), causedBy: [] };
            const write = { artifact, runs: [{ id: `run-${b}-${pass}`, agent: 'clock', subscription: -1, inputIds: [artifact.id], correlationId: artifact.correlationId }], deposits: [] };
            if (store.fireTimer({ name: 'clock', version: timer.version, ticks: tick, nextDueAt: plan.nextDue, write, now }).status === 'applied') applied++;
          }
        });
        await s.waitFor(Promise.all(firing));
        const ticks = store.list({ type: 'TimerTick' }).map((tick) => (tick.payload as { tick: number }).tick);
        expect(ticks).toEqual(Array.from({ length: rounds }, (_, i) => i + 1));
        expect(applied).toBe(rounds);
        expect(store.listTimers()[0]).toMatchObject({ ticks: rounds, nextDueAt: 100 * (rounds + 1) });
      }),
      { numRuns: 200 },
    );
  });
});
