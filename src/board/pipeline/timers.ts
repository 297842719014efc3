/**
 * Timers: agents that run on a schedule. A timer's state (next slot, tick count, version) lives in
 * the store; this stage keeps one `setTimeout` per board, armed for the earliest next slot of the
 * timers it declares. When it fires, the due timers are read from the store and each tick is fired
 * in one unit guarded by the timer's version (the timer moves to its next slot, and the tick's
 * artifact and its agent's run are stored, together or not at all), so that of any number of boards
 * on one store exactly one fires each tick, and a restart neither repeats nor loses one.
 *
 * Idle: a timer is not work (an endless schedule would keep `runUntilIdle` waiting forever). A tick
 * is, from the moment it is due until its run ends: while this stage registers timers or fires due
 * ticks, or its timer is past due, the board is not idle; the run a tick queued is counted as any run.
 *
 * `setTimeout` takes at most 2^31 - 1 ms (about 24.8 days): a later slot is reached by re-arming.
 */
import { MAX_TIMER_MS } from '../../core/validate.js';
import { isThenable } from '../../core/task.js';
import { drainDue } from './drain-due.js';
import { BOARD, TimerTick, type TimerTickPayload } from '../builtins.js';
import { TIMER_SUBSCRIPTION } from '../run-context.js';
import type { Artifact } from '../artifact.js';
import type { Schedule } from '../schedule.js';
import type { ArtifactWrite, BoardStore, TimerRecord } from '../store/contract.js';
import type { Visibility } from '../visibility.js';
import type { LiveAgent } from './live.js';
import type { Pipeline } from './pipeline.js';

const FIRE_BATCH = 64;
const PUBLIC: Visibility = Object.freeze({ kind: 'public' });
const NO_TAGS: readonly string[] = Object.freeze([]);
const BOARD_PUBLISHER = Object.freeze({ kind: 'board' as const });
const TIMER_METHODS = ['registerTimer', 'fireTimer', 'dueTimers', 'nextTimerDue'] as const;

type TimerStore = Required<Pick<BoardStore, (typeof TIMER_METHODS)[number]>>;

export class Timers {
  readonly #ctx: Pipeline;
  readonly #schedules = new Map<string, Schedule>();
  #names: readonly string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #at: number | undefined;
  /** Registrations and fire passes in progress. */
  #active = 0;
  /** Another pass was asked for while one ran. */
  #again = false;
  #passing = false;
  /** Firing waits for this (a board's `resume()` counting what the store holds). */
  #hold: Promise<void> | undefined;

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
  }

  /** A tick is due or being fired, or a timer being registered: work, for idle detection. */
  get busy(): boolean {
    return this.#active > 0 || (this.#at !== undefined && this.#at <= Date.now());
  }

  get #store(): TimerStore {
    return this.#ctx.store as unknown as TimerStore;
  }

  /** Checks that the store keeps timers (when the first scheduled agent is declared). */
  assertSupported(agent: string): void {
    const store = this.#ctx.store as unknown as Record<string, unknown>;
    for (const method of TIMER_METHODS) {
      if (typeof store[method] !== 'function') throw new TypeError(`agent '${agent}' has a schedule, but the board's store keeps no timers: ${method}() is missing`);
    }
  }

  /** A scheduled agent was declared: its timer is registered in the store (keeping the state stored there) and armed. */
  add(agent: LiveAgent): void {
    const schedule = agent.spec.schedule!;
    this.#schedules.set(agent.spec.name, schedule);
    this.#names = [...this.#schedules.keys()];
    this.#active++;
    this.#ctx.spawn(async () => {
      try {
        const definition = { name: agent.spec.name, fingerprint: schedule.fingerprint, workflow: schedule.workflow, firstDueAt: schedule.first(Date.now()) };
        const registered = this.#store.registerTimer(definition);
        const timer = isThenable(registered) ? await registered : registered;
        if (timer.nextDueAt !== undefined && !this.#pausedHere(timer)) this.arm(timer.nextDueAt);
      } catch (error) {
        if (!this.#ctx.closed) this.#ctx.internalError('registering a timer', agent.spec.name, error);
      } finally {
        this.#active--;
        this.#ctx.idle.check();
      }
    });
  }

  /** Firing waits until the function it answers is called (while a board's `resume()` counts the runs the store holds). */
  hold(): () => void {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    this.#hold = hold;
    return () => {
      if (this.#hold === hold) this.#hold = undefined;
      release();
    };
  }

  /** Makes sure the timer fires by `at` (epoch ms). */
  arm(at: number): void {
    if (this.#ctx.closed || (this.#at !== undefined && this.#at <= at)) return;
    this.disarm();
    this.#at = at;
    this.#set(at);
  }

  #set(at: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A slot further than setTimeout can wait: wait again for the rest.
      if (Date.now() < at) {
        this.#set(at);
        return;
      }
      this.#at = undefined;
      this.#fire();
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
    // An armed timer alone does not keep the process alive, as an idle board does not.
    if (typeof this.#timer === 'object') this.#timer.unref();
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = undefined;
  }

  /** Asks the store for the earliest next slot and arms for it (a workflow paused or resumed, another board's tick). */
  async rearm(): Promise<void> {
    if (this.#names.length === 0 || this.#ctx.closed) return;
    const next = this.#store.nextTimerDue(this.#names);
    const at = isThenable(next) ? await next : next;
    if (at === undefined || at !== this.#at) this.disarm();
    if (at !== undefined) this.arm(at);
    this.#ctx.idle.check();
  }

  /** {@link rearm}, its failure reported. */
  recheck(): void {
    if (this.#names.length === 0) return;
    this.#ctx.spawn(() => this.rearm().catch((error: unknown) => this.#ctx.closed || this.#ctx.internalError('timers', undefined, error)));
  }

  /** Starts a pass over the due timers, or asks the one running for another. */
  #fire(): void {
    this.#again = true;
    if (this.#passing) return;
    this.#passing = true;
    this.#active++;
    this.#ctx.spawn(() => this.#passes());
  }

  async #passes(): Promise<void> {
    const ctx = this.#ctx;
    try {
      if (this.#hold !== undefined) await this.#hold;
      while (this.#again && !ctx.closed) {
        this.#again = false;
        await this.#pass();
      }
      if (!ctx.closed) await this.rearm();
    } catch (error) {
      if (!ctx.closed) ctx.internalError('timers', undefined, error);
    } finally {
      this.#passing = false;
      this.#active--;
      ctx.idle.check();
    }
  }

  /** Fires the due ticks, until none is due (a timer missing ticks under `missed: 'all'` is due again at once). */
  async #pass(): Promise<void> {
    await drainDue(this.#ctx, {
      read: (now) => this.#store.dueTimers(this.#names, now, FIRE_BATCH),
      apply: (timer, now) => this.#fireOne(timer, now),
      failed: (timer, error) => this.#ctx.internalError('firing a timer', timer.name, error),
    });
  }

  /** Fires one timer's due slot (or skips it) in one unit; false when another board moved the timer first. */
  async #fireOne(timer: TimerRecord, now: number): Promise<boolean> {
    const ctx = this.#ctx;
    const schedule = this.#schedules.get(timer.name);
    const agent = ctx.agents.get(timer.name);
    if (schedule === undefined || agent === undefined || timer.nextDueAt === undefined) return false;
    const plan = schedule.plan(timer.nextDueAt, now, timer.ticks);
    if (plan.fire === undefined) {
      const skipped = this.#store.fireTimer({ name: timer.name, version: timer.version, ticks: timer.ticks, nextDueAt: plan.nextDue, now });
      return (isThenable(skipped) ? await skipped : skipped).status === 'applied';
    }
    const tick = timer.ticks + 1;
    const correlationId = schedule.workflow ?? `timer:${timer.name}:${tick}`;
    const payload: TimerTickPayload = { timer: timer.name, tick, scheduledAt: new Date(plan.fire).toISOString() };
    const wf = ctx.workflows.ensure(correlationId);
    ctx.counters.publishStarted(wf);
    try {
      const prepared = ctx.intake.prepare(TimerTick, payload, { producedBy: BOARD, correlationId, tags: NO_TAGS, visibility: PUBLIC, causedBy: NO_TAGS, publisher: BOARD_PUBLISHER });
      const artifact: Artifact = ctx.units.traced(isThenable(prepared) ? await prepared : prepared);
      // Only the agent's own maxRuns: a tick descends from nothing, it cannot be a feedback loop.
      const limit = agent.spec.maxRunsPerWorkflow;
      const write: ArtifactWrite = {
        artifact,
        runs: [{ id: ctx.ids.next(), agent: timer.name, subscription: TIMER_SUBSCRIPTION, inputIds: [artifact.id], correlationId, runLimit: limit === undefined || limit === Infinity ? undefined : limit }],
        deposits: [],
      };
      const stored = this.#store.fireTimer({ name: timer.name, version: timer.version, ticks: tick, nextDueAt: plan.nextDue, write, now });
      const result = isThenable(stored) ? await stored : stored;
      if (result.status !== 'applied') return false;
      ctx.units.applied(result, [artifact]);
      return true;
    } finally {
      ctx.counters.publishEnded(wf);
    }
  }

  /** This board knows the timer's workflow is paused or cancelled (the store leaves such timers out of due ones). */
  #pausedHere(timer: TimerRecord): boolean {
    return timer.workflow !== undefined && this.#ctx.workflows.state(timer.workflow) !== 'active';
  }
}
