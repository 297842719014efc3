/**
 * Test support: boards sharing one store (the `shared` option), run against any store. Each board
 * opens its own handle on the same store (`env.open()`: the same `MemoryStore`, or a new
 * `PostgresStore` on the same schema), as boards in other processes would.
 */
import { expect, it } from 'vitest';
import { z } from 'zod';
import { CancelledError } from '../core/errors.js';
import { artifactType } from './artifact.js';
import { Board, type BoardOptions } from './board.js';
import type { BoardStore, UnitResult } from './store/contract.js';

export interface SharedEnv {
  /** A handle on the shared store (a board closes its handle at shutdown). */
  open(): Promise<BoardStore>;
}

const Job = artifactType('Job', z.object({ n: z.number() }));
const Done = artifactType('Done', z.object({ n: z.number(), by: z.string() }));
const Line = artifactType('Line', z.string());

const FAST = { pollMs: 10 } as const;

/** A promise and its resolve. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Resolves when `signal` aborts (at once if it has). */
function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Waits until `condition()` holds, checking after every turn of the event loop's timers (event-driven tests use this only to observe). */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

type Hooks = { -readonly [K in keyof BoardStore]?: BoardStore[K] };

/** The store with some methods replaced (`base` is the store, for calling through). */
function wrap(base: BoardStore, hooks: (base: BoardStore) => Hooks): BoardStore {
  const replaced = hooks(base);
  return new Proxy(base, {
    get(target, key, receiver) {
      if (key in replaced) return replaced[key as keyof Hooks];
      const value = Reflect.get(target, key, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A store handle that can be frozen, as if its process stopped: calls wait until `thaw()`. */
function freezable(base: BoardStore): { store: BoardStore; freeze(): void; thaw(): void } {
  let gate: ReturnType<typeof latch> | undefined;
  const store = new Proxy(base, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (gate === undefined || key === 'close') return (value as (...a: unknown[]) => unknown).apply(target, args);
        return gate.promise.then(() => (value as (...a: unknown[]) => unknown).apply(target, args));
      };
    },
  });
  return {
    store,
    freeze: () => (gate = latch()),
    thaw: () => {
      const frozen = gate;
      gate = undefined;
      frozen?.open();
    },
  };
}

/** Every test: boards made here are shut down after it. */
export function sharedBoardTests(env: SharedEnv): void {
  async function board(options: BoardOptions & { store?: BoardStore } = {}): Promise<Board> {
    return new Board({ shared: FAST, leaseMs: 10_000, ...options, store: options.store ?? (await env.open()) });
  }

  function worker(b: Board, name: string, body?: (n: number, signal: AbortSignal) => Promise<void>, concurrency = 4): void {
    b.agent('worker')
      .consumes(Job)
      .publishes(Done)
      .maxConcurrency(concurrency)
      .handle(async ([job], ctx) => {
        await body?.(job.payload.n, ctx.signal);
        return { n: job.payload.n, by: name };
      });
  }

  it('splits runs across boards, runs each once, and is idle only when every board is done', async () => {
    const boards: Board[] = [];
    try {
      const publisher = await board({ work: false });
      boards.push(publisher);
      worker(publisher, 'publisher');
      const started = new Set<string>();
      const both = latch();
      const runs: number[] = [];
      for (const name of ['b', 'c']) {
        const b = await board();
        boards.push(b);
        worker(
          b,
          name,
          async (n) => {
            runs.push(n);
            started.add(name);
            if (started.size === 2) both.open();
            await both.promise; // each board holds its first run until the other board has one too
          },
          2,
        );
      }
      const N = 60;
      for (let n = 0; n < N; n++) await publisher.publish(Job, { n }, { correlationId: 'split' });
      await publisher.runUntilIdle({ timeoutMs: 30_000 });
      const done = await publisher.store.list({ type: Done });
      expect(done.map((a) => a.payload.n).sort((x, y) => x - y)).toEqual([...Array(N).keys()]);
      expect(new Set(done.map((a) => a.payload.by))).toEqual(new Set(['b', 'c']));
      expect(runs.length).toBe(N); // none executed twice
      expect(await publisher.store.pending()).toEqual({ queued: 0, paused: 0, running: 0, timedGates: 0 });
      expect(publisher.stats().agents.worker?.done).toBe(0); // work: false claims nothing
      await publisher.workflow('split').done({ timeoutMs: 10_000 });
    } finally {
      for (const b of boards) await b.shutdown();
    }
  });

  it('takes over the runs of a board that stopped (no renewals) once their leases expire, and its late completions apply nothing', async () => {
    const handle = freezable(await env.open());
    const boards: Board[] = [];
    try {
      const dying = await board({ store: handle.store, leaseMs: 300 });
      boards.push(dying);
      const holding = latch();
      let startedOnDying = 0;
      const allStarted = latch();
      worker(dying, 'dying', async () => {
        if (++startedOnDying === 3) allStarted.open();
        await holding.promise;
      });
      for (let n = 0; n < 3; n++) await dying.publish(Job, { n }, { correlationId: 'takeover' });
      await allStarted.promise;
      handle.freeze(); // the process stops talking to the store: no renewal, no completion
      holding.open();
      const heir = await board({ leaseMs: 300 });
      boards.push(heir);
      worker(heir, 'heir');
      await heir.runUntilIdle({ timeoutMs: 30_000 });
      const done = await heir.store.list({ type: Done });
      expect(done.map((a) => `${a.payload.n}:${a.payload.by}`).sort()).toEqual(['0:heir', '1:heir', '2:heir']);
      handle.thaw(); // the stopped board's completions arrive late: refused (lost claims)
      await dying.runUntilIdle({ timeoutMs: 30_000 });
      expect((await heir.store.list({ type: Done })).length).toBe(3);
      expect(dying.stats().agents.worker?.done).toBe(0);
    } finally {
      handle.thaw();
      for (const b of boards) await b.shutdown();
    }
  });

  it('renews the leases of long runs (no other board takes them) and aborts a run whose lease was lost', async () => {
    const boards: Board[] = [];
    try {
      // Leases long enough that a loaded machine (renewal every leaseMs / 3) never lets one lapse.
      const owner = await board({ leaseMs: 6_000 });
      boards.push(owner);
      // A run lasting several leases: renewals keep it on its board, a rival board never runs it.
      let renewalsSeen = 0;
      const ownerStarted = latch();
      worker(owner, 'owner', async () => {
        ownerStarted.open();
        const start = (await owner.store.listRuns({ state: 'running' }))[0]!.leaseUntil!;
        await until(async () => ((await owner.store.listRuns({ state: 'running' }))[0]?.leaseUntil ?? 0) > start + 1_000, 'renewals');
        renewalsSeen++;
      }, 1);
      await owner.publish(Job, { n: 1 }, { correlationId: 'long' });
      await ownerStarted.promise;
      const rival = await board({ leaseMs: 6_000 });
      boards.push(rival);
      worker(rival, 'rival', () => Promise.reject(new Error('the rival must not run a live board\'s run')), 1);
      await owner.workflow('long').done({ timeoutMs: 60_000 });
      expect(renewalsSeen).toBe(1);
      expect((await owner.store.list({ type: Done })).map((a) => a.payload.by)).toEqual(['owner']);
      expect(await owner.deadLetters()).toEqual([]);

      // A store that answers every renewal as lost (as when another board requeued and claimed the run).
      const losing = await board({ leaseMs: 150, store: wrap(await env.open(), (s) => ({ renewLeases: (_owner, ids) => (void s, ids) })) });
      boards.push(losing);
      let reason: unknown;
      losing.agent('loser').consumes(Line).handle(async (_lines, ctx) => {
        await whenAborted(ctx.signal);
        reason = ctx.signal.reason;
        throw reason;
      });
      const events = losing.events();
      await losing.publish(Line, 'lost', { correlationId: 'lost' });
      for await (const event of events) if (event.kind === 'cancelled') break;
      expect(reason).toBeInstanceOf(CancelledError);
      expect(String((reason as Error).message)).toMatch(/lost its lease/);
    } finally {
      for (const b of boards) await b.shutdown();
    }
  });

  it('resume() on a shared board requeues only expired leases, never a live board\'s runs', async () => {
    const boards: Board[] = [];
    try {
      const live = await board();
      boards.push(live);
      const hold = latch();
      const started = latch();
      worker(live, 'live', async () => {
        started.open();
        await hold.promise;
      });
      await live.publish(Job, { n: 1 }, { correlationId: 'live' });
      await started.promise;
      const other = await board();
      boards.push(other);
      worker(other, 'other');
      expect((await other.resume()).requeued).toBe(0);
      const running = await other.store.listRuns({ state: 'running' });
      expect(running).toHaveLength(1);
      hold.open();
      await other.runUntilIdle({ timeoutMs: 20_000 });
      expect((await other.store.list({ type: Done })).map((a) => a.payload.by)).toEqual(['live']);
    } finally {
      for (const b of boards) await b.shutdown();
    }
  });

  it('a cancel on one board aborts the workflow\'s runs on another; a pause stops new runs until resumed', async () => {
    const boards: Board[] = [];
    try {
      const control = await board({ work: false });
      boards.push(control);
      worker(control, 'control');
      const runner = await board();
      boards.push(runner);
      const started = latch();
      let aborted: unknown;
      const abortSeen = latch();
      worker(runner, 'runner', async (n, signal) => {
        if (n !== 1) return;
        started.open();
        await whenAborted(signal);
        aborted = signal.reason;
        abortSeen.open();
        throw signal.reason;
      });
      await control.publish(Job, { n: 1 }, { correlationId: 'doomed' });
      await started.promise;
      const done = control.workflow('doomed').done({ timeoutMs: 20_000 });
      done.catch(() => {});
      await control.workflow('doomed').cancel();
      await abortSeen.promise;
      expect(aborted).toBeInstanceOf(CancelledError);
      await expect(done).rejects.toBeInstanceOf(CancelledError);
      await expect(control.publish(Job, { n: 2 }, { correlationId: 'doomed' })).rejects.toBeInstanceOf(CancelledError);

      await control.workflow('held').pause();
      await control.publish(Job, { n: 3 }, { correlationId: 'held' });
      // Several polls of the runner pass: the paused workflow's run stays queued.
      const base = runner.stats().agents.worker!.done;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await control.store.pending({ correlationId: 'held' })).toMatchObject({ queued: 0, paused: 1, running: 0 });
      expect(runner.stats().agents.worker!.done).toBe(base);
      await control.workflow('held').resume();
      await control.workflow('held').done({ timeoutMs: 20_000 });
      expect((await control.store.list({ type: Done, correlationId: 'held' })).map((a) => a.payload.by)).toEqual(['runner']);
      await control.runUntilIdle({ timeoutMs: 20_000 });
    } finally {
      for (const b of boards) await b.shutdown();
    }
  });

  it('a batch deadline seen by two boards at once closes the gate once', async () => {
    const boards: Board[] = [];
    let conflicts = 0;
    let waitingAtDue: (() => void) | undefined;
    try {
      const base = await env.open();
      const batches: string[][] = [];
      // Both boards read the due gate before either closes it: the second close must be refused.
      const racing = (store: BoardStore) =>
        wrap(store, (s) => ({
          dueGates: async (now: number, limit: number) => {
            const gates = await s.dueGates(now, limit);
            if (gates.length === 0) return gates;
            if (waitingAtDue === undefined) {
              const other = latch();
              waitingAtDue = other.open;
              let timer: ReturnType<typeof setTimeout> | undefined;
              await Promise.race([other.promise, new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
              clearTimeout(timer);
            } else waitingAtDue();
            return gates;
          },
          publish: async (unit) => {
            const result: UnitResult = await s.publish(unit);
            if (result.status === 'conflict') conflicts++;
            return result;
          },
        }));
      for (const name of ['a', 'b']) {
        const b = await board({ store: racing(name === 'a' ? base : await env.open()) });
        boards.push(b);
        b.agent('batcher')
          .consumes(Line, { batch: { size: 10, timeoutMs: 100 } })
          .handle((lines) => void batches.push(lines.map((l) => l.payload).sort()));
      }
      for (const text of ['x', 'y', 'z']) await boards[0]!.publish(Line, text, { correlationId: 'lines' });
      await boards[1]!.runUntilIdle({ timeoutMs: 20_000 });
      await boards[0]!.runUntilIdle({ timeoutMs: 20_000 });
      // Each line in exactly one batch (publishes slower than the timeout split them into several).
      expect(batches.flat().sort()).toEqual(['x', 'y', 'z']);
      expect(conflicts).toBeGreaterThanOrEqual(1); // the race happened (a board may also retry a close it lost)
    } finally {
      waitingAtDue?.();
      for (const b of boards) await b.shutdown();
    }
  });

  it('an embargo seen ending by two boards at once is released once', async () => {
    const boards: Board[] = [];
    let conflicts = 0;
    let waitingAtDue: (() => void) | undefined;
    try {
      const base = await env.open();
      const runs: string[] = [];
      // Both boards read the due embargo before either releases it: the second release must be refused.
      const sawDue = new Set<string>();
      const racing = (store: BoardStore, name: string) =>
        wrap(store, (s) => ({
          dueEmbargoes: async (now: number, limit: number) => {
            const due = await s.dueEmbargoes(now, limit);
            if (due.length === 0) return due;
            sawDue.add(name);
            if (waitingAtDue === undefined) {
              const other = latch();
              waitingAtDue = other.open;
              let timer: ReturnType<typeof setTimeout> | undefined;
              await Promise.race([other.promise, new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
              clearTimeout(timer);
            } else waitingAtDue();
            return due;
          },
          publish: async (unit) => {
            const result: UnitResult = await s.publish(unit);
            if (result.status === 'conflict' && (unit.releases?.length ?? 0) > 0) conflicts++;
            return result;
          },
        }));
      for (const name of ['a', 'b']) {
        const b = await board({ store: racing(name === 'a' ? base : await env.open(), name) });
        boards.push(b);
        b.agent('reader')
          .consumes(Line)
          .handle(([line]) => void runs.push(`${line.payload} on ${name}`));
      }
      await boards[0]!.publish(Line, 'embargoed', { correlationId: 'later', visibleAfterMs: 100 });
      await until(async () => (await boards[1]!.store.list({ type: Line })).length === 1 && runs.length === 1, 'the release and its run');
      await boards[1]!.runUntilIdle({ timeoutMs: 20_000 });
      await boards[0]!.runUntilIdle({ timeoutMs: 20_000 });
      expect(runs).toHaveLength(1); // released once, so run once
      // Both boards read it due before either released it (the first waits for the other), so one release lost;
      // on a loaded machine the second board's first look may come after the wait, and then there was no race.
      if (sawDue.size === 2) expect(conflicts).toBeGreaterThanOrEqual(1);
      expect(await boards[0]!.store.pending()).toEqual({ queued: 0, paused: 0, running: 0, timedGates: 0 });
    } finally {
      waitingAtDue?.();
      for (const b of boards) await b.shutdown();
    }
  });

  it('a close read from a gate that was closed and opened again is refused (versions do not repeat)', async () => {
    const store = await env.open();
    try {
      const now = Date.now();
      const deposit = (id: string) => ({
        artifact: { id, type: 'Line', payload: id, producedBy: 'external', correlationId: 'aba', tags: [], visibility: { kind: 'public' as const }, createdAt: new Date(now).toISOString(), causedBy: [] },
        runs: [],
        deposits: [{ key: 'batcher/0/wf:aba', agent: 'batcher', subscription: 0, kind: 'batch' as const, typeNames: ['Line'], positions: [0], batchSize: 10, windowMs: 10, artifactId: id, correlationId: 'aba', runId: `never-${id}` }],
      });
      await store.publish({ writes: [deposit(`aba-x-${now}`)], now });
      const [stale] = await store.dueGates(now + 20, 10);
      const [fresh] = await store.dueGates(now + 20, 10);
      const close = (version: number, id: string) => ({ writes: [], closeGates: [{ key: stale!.key, version, run: { id, agent: 'batcher', subscription: 0, inputIds: [`aba-x-${now}`], correlationId: 'aba' } }], now: now + 20 });
      expect((await store.publish(close(fresh!.version, `aba-run-1-${now}`))).status).toBe('applied');
      await store.publish({ writes: [deposit(`aba-z-${now}`)], now: now + 30 }); // the same key opens again
      expect((await store.publish(close(stale!.version, `aba-run-2-${now}`))).status).toBe('conflict');
      expect((await store.listGates({ correlationId: 'aba' })).flatMap((gate) => gate.slots.flat().map((entry) => entry.artifactId))).toEqual([`aba-z-${now}`]);
    } finally {
      await store.close?.();
    }
  });

  it('a board with work: false never claims; shutdown hands a board\'s running runs back for another', async () => {
    const boards: Board[] = [];
    try {
      let claims = 0;
      const watcher = await board({ work: false });
      boards.push(watcher);
      const watched = wrap(await env.open(), (s) => ({
        claim: (request) => {
          claims++;
          return s.claim(request);
        },
      }));
      const idleWatcher = await board({ store: watched, work: false });
      boards.push(idleWatcher);
      worker(idleWatcher, 'never');
      worker(watcher, 'never');
      const first = await board();
      boards.push(first);
      const started = latch();
      let cancelledOnFirst = 0;
      worker(first, 'first', async (_n, signal) => {
        started.open();
        await whenAborted(signal);
        cancelledOnFirst++;
        throw signal.reason;
      });
      await watcher.publish(Job, { n: 7 }, { correlationId: 'handed-back' });
      await started.promise;
      await first.shutdown(); // hands the run back (released: queued again, attempt kept)
      expect(cancelledOnFirst).toBe(1);
      const queued = await watcher.store.listRuns({ state: 'queued' });
      expect(queued.map((run) => run.attempt)).toEqual([1]);
      const second = await board();
      boards.push(second);
      worker(second, 'second');
      await watcher.workflow('handed-back').done({ timeoutMs: 20_000 });
      expect((await watcher.store.list({ type: Done })).map((a) => a.payload.by)).toEqual(['second']);
      expect(claims).toBe(0);
    } finally {
      for (const b of boards) await b.shutdown();
    }
  });
}
