/**
 * Shared mode: other boards (processes, machines) use the same store. This board cannot count what
 * they queue, claim or finish, so it asks the store: one timer per board polls it (claims for every
 * agent, requeues expired leases, re-reads gate deadlines and workflow states, answers idle and
 * workflow waiters), and the store's notices (`onNotice`, PostgreSQL's `LISTEN/NOTIFY`) wake it
 * sooner. It also renews the leases of the runs this board holds, and aborts a run whose lease was
 * lost (another board may be running it now; its completion would apply nothing).
 */
import { CancelledError } from '../../core/errors.js';
import { isThenable } from '../../core/task.js';
import type { ClaimedRun, StoreNotice, WorkflowState } from '../store/contract.js';
import { linkSignal, type SignalLink } from '../../core/signal.js';
import { NoticePoller } from '../store/notice-poller.js';
import { leaseControllers, type LiveWorkflow } from './live.js';
import type { Pipeline } from './pipeline.js';

/** A claimed run this board holds (executing, or held by a `beforeSchedule` component). */
interface Held {
  readonly run: ClaimedRun;
  /** The run's own signal: aborts when its lease is lost, or when its workflow's does. */
  readonly controller: AbortController;
  readonly wf: LiveWorkflow;
}

/** The runs of one workflow this board holds, and the one listener that passes its abort on to them. */
interface HeldOfWorkflow {
  readonly runs: Set<Held>;
  readonly link: SignalLink;
}

export class Shared {
  readonly #ctx: Pipeline;
  readonly pollMs: number;
  readonly #held = new Map<string, Held>();
  readonly #byWorkflow = new Map<LiveWorkflow, HeldOfWorkflow>();
  #poller: NoticePoller | undefined;
  #lastRenew = 0;
  #lastRequeue = 0;
  /** Workflow states this board last saw in the store (those not active). */
  #known = new Map<string, WorkflowState>();

  constructor(ctx: Pipeline, pollMs: number) {
    this.#ctx = ctx;
    this.pollMs = pollMs;
  }

  /** Starts polling and listening (the board's constructor). */
  start(): void {
    const ctx = this.#ctx;
    this.#poller = new NoticePoller(ctx.store, {
      poll: () => this.#tick(),
      intervalMs: Math.min(this.pollMs, ctx.leaseMs / 3),
      onNotice: (notice) => this.#notice(notice),
      // Polling covers a failed subscription: notices only make wake-ups sooner.
      onError: (operation, error) => {
        if (!ctx.closed) ctx.internalError(operation, undefined, error);
      },
      // The timer keeps the process alive only while this board holds runs or someone waits on it.
      keepsAlive: () => this.#held.size > 0 || ctx.idle.waiting || ctx.workflows.waiting || ctx.storeWatchers.size > 0,
    });
    this.#poller.start();
  }

  /** Stops the timer and the listener (shutdown); resolves once a poll in flight has ended. */
  async stop(): Promise<void> {
    await this.#poller?.stop();
  }

  /** A run this board claimed: its lease is renewed until `release`; its signal aborts if the lease is lost. */
  hold(run: ClaimedRun, wf: LiveWorkflow): void {
    const controller = new AbortController();
    const held: Held = { run, controller, wf };
    leaseControllers.set(run, controller);
    this.#held.set(run.id, held);
    // One listener per workflow on its signal (not one per run, nor AbortSignal.any, which would leave
    // one per run on a signal that lives as long as the workflow), removed when its last run ends.
    let group = this.#byWorkflow.get(wf);
    if (group === undefined) {
      const runs = new Set<Held>();
      const relay = new AbortController();
      relay.signal.addEventListener('abort', () => {
        for (const each of runs) each.controller.abort(relay.signal.reason);
      });
      group = { runs, link: linkSignal(relay, (wf.controller ??= new AbortController()).signal) };
      this.#byWorkflow.set(wf, group);
    }
    group.runs.add(held);
    if (wf.controller?.signal.aborted) controller.abort(wf.controller.signal.reason);
    if (this.#held.size === 1) this.#poller?.refresh();
  }

  release(run: ClaimedRun): void {
    const held = this.#held.get(run.id);
    if (held?.run !== run) return;
    this.#held.delete(run.id);
    const group = this.#byWorkflow.get(held.wf);
    if (group === undefined) return;
    group.runs.delete(held);
    if (group.runs.size > 0) return;
    group.link.unlink();
    this.#byWorkflow.delete(held.wf);
  }

  /** Something waits (idle, a workflow): keep the process alive and look soon. */
  waiting(): void {
    this.#poller?.refresh();
  }

  async #tick(): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.closed) return;
    const now = Date.now();
    const leaseMs = ctx.leaseMs;
    if (this.#held.size > 0 && now - this.#lastRenew >= leaseMs / 3) {
      this.#lastRenew = now;
      await this.#step('renewing leases', () => this.#renew(now));
    }
    if (now - this.#lastRequeue >= Math.min(leaseMs / 4, 5 * this.pollMs)) {
      this.#lastRequeue = now;
      await this.#step('requeueing expired leases', async () => {
        const requeued = ctx.store.requeueExpired(now);
        const runs = isThenable(requeued) ? await requeued : requeued;
        if (runs.length > 0) ctx.dispatcher.wakeAll();
      });
    }
    await this.#step('reading workflow states', () => this.#syncWorkflows());
    await this.#step('gate deadlines', () => ctx.deadlines.rearm());
    await this.#step('timers', () => ctx.timers.rearm());
    ctx.dispatcher.wakeAll();
    ctx.idle.check();
    for (const wf of [...ctx.workflows.all()]) if (wf.doneWaiters !== undefined && wf.doneWaiters.size > 0) ctx.workflows.settled(wf);
    this.#storeChanged();
  }

  async #step(operation: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      if (!this.#ctx.closed) this.#ctx.internalError(operation, undefined, error);
    }
  }

  async #renew(now: number): Promise<void> {
    const ctx = this.#ctx;
    const ids = [...this.#held.keys()];
    const renewed = ctx.store.renewLeases(ctx.owner, ids, ctx.leaseMs, now);
    const lost = isThenable(renewed) ? await renewed : renewed;
    for (const id of lost) {
      const held = this.#held.get(id);
      if (held === undefined) continue; // ended meanwhile
      held.controller.abort(new CancelledError(`run ${id} (attempt ${held.run.attempt}) lost its lease; another board may run it`));
    }
  }

  /** Brings this board's workflow records in line with the states other boards set. */
  async #syncWorkflows(): Promise<void> {
    const listed = this.#ctx.store.listWorkflowStates();
    const states = isThenable(listed) ? await listed : listed;
    const seen = new Map<string, WorkflowState>();
    for (const { correlationId, state } of states) seen.set(correlationId, state);
    for (const [id, state] of seen) if (this.#known.get(id) !== state) this.apply(id, state);
    for (const id of this.#known.keys()) if (!seen.has(id)) this.apply(id, 'active');
    this.#known = seen;
  }

  /** Tells those waiting on a condition over the store that it may have changed. */
  #storeChanged(): void {
    for (const watcher of [...this.#ctx.storeWatchers]) watcher();
  }

  #notice(notice: StoreNotice): void {
    const ctx = this.#ctx;
    if (ctx.closed) return;
    this.#storeChanged();
    if (notice.kind === 'runs') {
      for (const name of notice.agents) {
        const agent = ctx.agents.get(name);
        if (agent !== undefined) ctx.dispatcher.wake(agent);
      }
    } else {
      if (notice.state === 'active') this.#known.delete(notice.correlationId);
      else this.#known.set(notice.correlationId, notice.state);
      this.apply(notice.correlationId, notice.state);
    }
  }

  /** Another board set workflow `id` to `state`: cancel aborts its runs here, pause stops starting new ones. */
  apply(id: string, state: WorkflowState): void {
    const ctx = this.#ctx;
    const wf = ctx.workflows.get(id);
    if (wf === undefined) {
      if (state === 'active') {
        ctx.dispatcher.wakeAll(); // resumed: its queued runs may be claimed now
        return;
      }
      ctx.workflows.ensure(id).state = state;
      return;
    }
    if (wf.state === state || wf.state === 'cancelled') return;
    if (state === 'cancelled') ctx.workflows.cancelledElsewhere(wf);
    else if (state === 'paused') wf.state = 'paused';
    else {
      wf.state = 'active';
      ctx.dispatcher.wakeAll();
      ctx.workflows.settled(wf);
    }
  }
}
