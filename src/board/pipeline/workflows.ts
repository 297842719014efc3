/**
 * Workflows: the records of workflows with work in this process, and what waits on them (done,
 * cancel, pause, resume). Their state lives in the store; the record mirrors it for this process (and,
 * sharing the store, learns of other boards' changes from `shared.ts`).
 */
import { CancelledError } from '../../core/errors.js';
import { isThenable } from '../../core/task.js';
import { BoardClosedError } from '../errors.js';
import type { Pending, WorkflowState } from '../store/contract.js';
import type { WaitOptions } from '../workflow.js';
import type { LiveWorkflow } from './live.js';
import type { Pipeline } from './pipeline.js';

export class Workflows {
  readonly #ctx: Pipeline;
  readonly #live = new Map<string, LiveWorkflow>();

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
  }

  get(id: string): LiveWorkflow | undefined {
    return this.#live.get(id);
  }

  /** The record of workflow `id`, made if it has none. */
  ensure(id: string): LiveWorkflow {
    let wf = this.#live.get(id);
    if (wf === undefined) {
      wf = { id, state: 'active', queued: 0, running: 0, deferred: 0, publishing: 0, controller: undefined, doneWaiters: undefined };
      this.#live.set(id, wf);
    }
    return wf;
  }

  all(): IterableIterator<LiveWorkflow> {
    return this.#live.values();
  }

  state(id: string): WorkflowState {
    return this.#live.get(id)?.state ?? 'active';
  }

  busy(wf: LiveWorkflow): boolean {
    return wf.queued + wf.running + wf.deferred + wf.publishing > 0;
  }

  /** Called whenever a workflow's counters went down: settles its waiters, forgets it, checks board idle. */
  settled(wf: LiveWorkflow): void {
    if (!this.busy(wf)) {
      if (wf.doneWaiters !== undefined && wf.doneWaiters.size > 0) this.#settleWaiters(wf);
      else if (wf.state === 'active') this.#live.delete(wf.id);
    }
    this.#ctx.idle.check();
  }

  /** Someone waits for a workflow to be done. */
  get waiting(): boolean {
    for (const wf of this.#live.values()) if (wf.doneWaiters !== undefined && wf.doneWaiters.size > 0) return true;
    return false;
  }

  /**
   * Done means nothing in this process and no open gate with a deadline holding its artifacts in the
   * store; sharing the store, also no run of it queued or running on any board.
   */
  #settleWaiters(wf: LiveWorkflow): void {
    const shared = this.#ctx.shared !== undefined;
    const resolveIfDone = (p: Pending): void => {
      if (p.timedGates > 0 || this.busy(wf) || (shared && p.queued + p.paused + p.running > 0)) return;
      const waiters = wf.doneWaiters;
      if (waiters !== undefined) {
        for (const waiter of waiters) waiter.resolve();
        waiters.clear();
      }
      if (wf.state === 'active' && !this.busy(wf)) this.#live.delete(wf.id);
    };
    try {
      const pending = this.#ctx.store.pending({ correlationId: wf.id });
      if (isThenable(pending)) pending.then(resolveIfDone, (error: unknown) => this.#ctx.internalError('workflow done', undefined, error));
      else resolveIfDone(pending);
    } catch (error) {
      this.#ctx.internalError('workflow done', undefined, error);
    }
  }

  waitDone(id: string, options: WaitOptions | undefined): Promise<void> {
    const wf = this.#live.get(id);
    if (wf?.state === 'cancelled') return Promise.reject(new CancelledError(`workflow ${id} was cancelled`));
    if (this.#ctx.closed) return Promise.reject(new BoardClosedError());
    const record = wf ?? this.ensure(id);
    return this.#ctx.idle.wait((record.doneWaiters ??= new Set()), options, () => `workflow ${id} was not done after ${options?.timeoutMs} ms`, () => {
      this.#ctx.shared?.waiting();
      this.settled(record);
    });
  }

  async cancel(id: string, reason: unknown): Promise<void> {
    const wf = this.ensure(id);
    if (wf.state === 'cancelled') return;
    const wasPaused = wf.state === 'paused';
    wf.state = 'cancelled';
    const why = reason ?? new CancelledError(`workflow ${id} was cancelled`);
    // At once, before any store round trip: running runs are aborted (the controller is made here if
    // none has read its signal yet, so one that reads it later sees it aborted), waiters learn of it.
    (wf.controller ??= new AbortController()).abort(why);
    this.#ctx.dispatcher.dropDeferred(wf);
    if (wf.doneWaiters !== undefined) {
      for (const waiter of wf.doneWaiters) waiter.reject(why instanceof Error ? why : new CancelledError(`workflow ${id} was cancelled`, { cause: why }));
      wf.doneWaiters.clear();
    }
    const change = await this.#ctx.store.setWorkflowState(id, 'cancelled');
    this.#ctx.deadlines.recheck();
    this.#ctx.timers.recheck();
    for (const run of change.dropped) {
      const agent = this.#ctx.agents.get(run.agent);
      this.#ctx.dispatcher.forget(run.id);
      if (agent === undefined) continue;
      this.#ctx.counters.runLeftQueue(agent, wf, wasPaused);
      this.#ctx.counters.queuedRunCancelled(agent);
      this.#ctx.completion.reportCancelled(run, why);
    }
    if (wf.running > 0) await new Promise<void>((resolve) => (wf.doneWaiters ??= new Set()).add({ resolve, reject: () => resolve() }));
    this.settled(wf);
  }

  /** Another board cancelled the workflow (seen in a notice or a poll): its runs here are aborted, its waiters told. */
  cancelledElsewhere(wf: LiveWorkflow): void {
    if (wf.state === 'cancelled') return;
    if (wf.state === 'paused') this.#ctx.counters.workflowResumed(wf);
    wf.state = 'cancelled';
    const why = new CancelledError(`workflow ${wf.id} was cancelled`);
    (wf.controller ??= new AbortController()).abort(why);
    this.#ctx.dispatcher.dropDeferred(wf);
    if (wf.doneWaiters !== undefined) {
      for (const waiter of wf.doneWaiters) waiter.reject(why);
      wf.doneWaiters.clear();
    }
    this.#ctx.deadlines.recheck();
    this.settled(wf);
  }

  async pause(id: string): Promise<void> {
    const wf = this.ensure(id);
    if (wf.state !== 'active') return;
    wf.state = 'paused';
    this.#ctx.counters.workflowPaused(wf);
    await this.#ctx.store.setWorkflowState(id, 'paused');
    this.#ctx.timers.recheck();
    this.#ctx.idle.check();
  }

  async resume(id: string): Promise<void> {
    const wf = this.#live.get(id);
    if (wf === undefined && this.#ctx.shared !== undefined && (await this.#ctx.store.getWorkflowState(id)) === 'paused') {
      // Paused by another board this one has not heard from yet.
      this.ensure(id).state = 'paused';
      return this.resume(id);
    }
    if (wf === undefined || wf.state !== 'paused') return;
    wf.state = 'active';
    this.#ctx.counters.workflowResumed(wf);
    await this.#ctx.store.setWorkflowState(id, 'active');
    this.#ctx.timers.recheck();
    this.#ctx.dispatcher.wakeAll();
    this.settled(wf);
  }

  /** Rejects every waiter: the board is shutting down. */
  failAll(reason: unknown): void {
    for (const wf of this.#live.values()) {
      if (wf.doneWaiters === undefined) continue;
      for (const waiter of wf.doneWaiters) waiter.reject(reason);
      wf.doneWaiters.clear();
    }
  }
}
