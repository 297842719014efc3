/**
 * The dispatcher: per agent, takes a permit (waiting for one), then as many more as are free right
 * now, claims up to that many runs from the store in one call, gives back the permits it did not
 * need, and hands each run to the executor in the async context it was scheduled in. `beforeSchedule` components
 * decide here, on the claimed run, whether it runs now, later or never.
 */
import type { AsyncResource } from 'node:async_hooks';
import { assertDuration, describe } from '../../core/validate.js';
import { isThenable } from '../../core/task.js';
import type { Permit } from '../../flow/semaphore.js';
import type { ScheduleCandidate } from '../components.js';
import type { ClaimedRun } from '../store/contract.js';
import type { LiveAgent, LiveWorkflow } from './live.js';
import type { Pipeline } from './pipeline.js';

/** The most runs one claim asks for (an agent with many permits claims in several round trips). */
const MAX_CLAIM = 64;

interface Deferral {
  readonly timer: ReturnType<typeof setTimeout>;
  readonly wf: LiveWorkflow;
  readonly agent: LiveAgent;
  readonly run: ClaimedRun;
}

export class Dispatcher {
  readonly #ctx: Pipeline;
  /** The async context each queued run was scheduled in, to run it there. */
  readonly #contexts = new Map<string, AsyncResource>();
  readonly #deferrals = new Set<Deferral>();

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
  }

  remember(runId: string, resource: AsyncResource): void {
    // Sharing the store, another board may run it: no context kept for a run that may never come back.
    if (this.#ctx.shared !== undefined) return;
    this.#contexts.set(runId, resource);
  }

  forget(runId: string): void {
    this.#contexts.delete(runId);
  }

  /** Wakes every agent with queued runs (in shared mode, every agent: others may have queued runs). */
  wakeAll(): void {
    const shared = this.#ctx.shared !== undefined;
    for (const agent of this.#ctx.agents.values()) if (shared || agent.queued > 0) this.wake(agent);
  }

  wake(agent: LiveAgent): void {
    if (!this.#ctx.work) return;
    agent.wake = true;
    if (agent.pumping || this.#ctx.closed) return;
    agent.pumping = true;
    this.#ctx.spawn(() => this.#pump(agent).catch((error: unknown) => this.#ctx.internalError('claiming a run', agent.spec.name, error)));
  }

  async #pump(agent: LiveAgent): Promise<void> {
    const ctx = this.#ctx;
    const shared = ctx.shared;
    try {
      while (agent.wake && !ctx.closed) {
        agent.wake = false;
        // Alone on its store the board knows how many runs are queued; sharing it, it claims until a
        // claim comes back short (the store's queue is empty for now) and waits for the next wake-up.
        while ((shared !== undefined || agent.queued > 0) && !ctx.closed) {
          // No signal on this wait: a listener per wait on the board's long-lived signal is what skein
          // avoids. At shutdown every run is aborted, so permits come back and the loop sees `closed`.
          const waits = shared !== undefined && agent.permits.available === 0;
          const permits = [await agent.permits.acquire()];
          // Sharing the store, the runs that end together (a group-committed batch of completions)
          // give their permits back one by one within one turn of the event loop, and a wait for a
          // permit ends at the first: let that turn end, so that one claim takes them all rather
          // than a claim of one run and another of the rest (a round trip and a claim each).
          if (waits && !ctx.closed) await new Promise<void>((resolve) => setImmediate(resolve));
          if (ctx.closed) {
            permits[0]!.release();
            return;
          }
          // One claim for as many runs as there are permits free right now (and runs queued).
          const want = shared === undefined ? Math.min(agent.queued, MAX_CLAIM) : MAX_CLAIM;
          while (permits.length < want) {
            const more = agent.permits.tryAcquire();
            if (more === undefined) break;
            permits.push(more);
          }
          let runs: readonly ClaimedRun[];
          try {
            const claimed = ctx.store.claim({ owner: ctx.owner, agents: agent.claimAgents, limit: permits.length, leaseMs: ctx.leaseMs, now: Date.now() });
            runs = isThenable(claimed) ? await claimed : claimed;
          } catch (error) {
            for (const permit of permits) permit.release();
            throw error;
          }
          for (let i = runs.length; i < permits.length; i++) permits[i]!.release();
          for (let i = 0; i < runs.length; i++) {
            const run = runs[i]!;
            const wf = ctx.workflows.ensure(run.correlationId);
            shared?.hold(run, wf);
            ctx.counters.runLeftQueue(agent, wf);
            this.#start(agent, run, wf, permits[i]!);
          }
          if (runs.length < permits.length) break;
        }
      }
    } finally {
      agent.pumping = false;
    }
  }

  /** Starts a claimed run, unless the board closed, its workflow was cancelled, or a component holds it. */
  #start(agent: LiveAgent, run: ClaimedRun, wf: LiveWorkflow, permit: Permit): void {
    const ctx = this.#ctx;
    if (ctx.closed || wf.state === 'cancelled') {
      // Shut down or cancelled while claiming: the run ends as cancelled, like every queued one.
      permit.release();
      this.#contexts.delete(run.id);
      ctx.counters.runStarted(agent, wf);
      ctx.spawn(() => ctx.completion.cancel(agent, run, wf, ctx.closed ? ctx.scope.signal.reason : wf.controller?.signal.reason).finally(() => ctx.shared?.release(run)));
      return;
    }
    if (ctx.scheduleComponents.length > 0 && run.replayOf === undefined) {
      permit.release();
      ctx.counters.deferralStarted(wf);
      ctx.spawn(() => this.#ask(agent, run, wf));
      return;
    }
    this.#execute(agent, run, wf, permit);
  }

  #execute(agent: LiveAgent, run: ClaimedRun, wf: LiveWorkflow, permit: Permit): void {
    const ctx = this.#ctx;
    ctx.counters.runStarted(agent, wf);
    // The run executes in the async context it was scheduled in (AsyncLocalStorage, OpenTelemetry), not the pump's.
    const resource = this.#contexts.get(run.id);
    this.#contexts.delete(run.id);
    // `execute` never rejects: it turns every outcome into finished, failed or cancelled.
    const shared = ctx.shared;
    if (shared === undefined) {
      ctx.scope.spawn(() =>
        resource === undefined ? ctx.executor.execute(agent, run, wf, permit) : resource.runInAsyncScope(ctx.executor.execute, ctx.executor, agent, run, wf, permit),
      );
      return;
    }
    ctx.scope.spawn(async () => {
      try {
        await (resource === undefined ? ctx.executor.execute(agent, run, wf, permit) : resource.runInAsyncScope(ctx.executor.execute, ctx.executor, agent, run, wf, permit));
      } finally {
        shared.release(run);
      }
    });
  }

  /** Asks the `beforeSchedule` components about a claimed run (counted as deferred meanwhile). */
  async #ask(agent: LiveAgent, run: ClaimedRun, wf: LiveWorkflow): Promise<void> {
    const ctx = this.#ctx;
    let handedOn = false;
    try {
      const found = ctx.store.getArtifacts(run.inputIds);
      const inputs = (isThenable(found) ? await found : found).filter((artifact) => artifact !== undefined);
      const decision = await this.#decide({ agent: agent.spec.name, correlationId: run.correlationId, inputs });
      if (this.#stopped(wf)) {
        await this.#unstarted(agent, run, wf);
        return;
      }
      if (decision === 'skip') {
        ctx.skipped(agent.spec.name, run.correlationId, run.inputIds, 'skipped by a component');
        await this.#unstarted(agent, run, wf, false);
        return;
      }
      if (typeof decision === 'number') {
        // Asked again when the delay passes: a component may defer as often as it likes.
        handedOn = true;
        const deferral: Deferral = {
          wf,
          agent,
          run,
          timer: setTimeout(() => {
            if (this.#deferrals.delete(deferral)) ctx.spawn(() => this.#ask(agent, run, wf));
          }, decision),
        };
        this.#deferrals.add(deferral);
        return;
      }
      const permit = await agent.permits.acquire();
      if (this.#stopped(wf)) {
        permit.release();
        await this.#unstarted(agent, run, wf);
        return;
      }
      this.#execute(agent, run, wf, permit);
    } catch (error) {
      ctx.internalError('beforeSchedule', agent.spec.name, error);
      await this.#unstarted(agent, run, wf, false);
    } finally {
      if (!handedOn) ctx.counters.deferralEnded(wf);
    }
  }

  /**
   * Ends a claimed run that never started: cancelled (skipped, its workflow cancelled), or, when the
   * board shuts down, handed back to the store's queue for another board or a later `resume()`.
   */
  async #unstarted(agent: LiveAgent, run: ClaimedRun, wf: LiveWorkflow, counted = true): Promise<void> {
    const ctx = this.#ctx;
    try {
      if (!ctx.closed || wf.state === 'cancelled') {
        await ctx.completion.cancelUnstarted(agent, run, wf, counted);
        return;
      }
      try {
        const done = ctx.store.complete({ runId: run.id, owner: run.owner, attempt: run.attempt }, { outcome: 'released' }, Date.now());
        if (isThenable(done)) await done;
      } catch (error) {
        ctx.internalError('handing back a held run', agent.spec.name, error);
      }
      if (!counted) return;
      ctx.counters.queuedRunCancelled(agent);
      ctx.completion.reportCancelled(run, ctx.scope.signal.reason);
    } finally {
      ctx.shared?.release(run);
    }
  }

  /** The board closed or the workflow was cancelled (checked again after every wait). */
  #stopped(wf: LiveWorkflow): boolean {
    return this.#ctx.closed || wf.state === 'cancelled';
  }

  async #decide(candidate: ScheduleCandidate): Promise<'continue' | 'skip' | number> {
    for (const component of this.#ctx.scheduleComponents) {
      const decision = await component.beforeSchedule!(candidate);
      if (decision === undefined || decision === null || decision === 'continue') continue;
      if (decision === 'skip') return 'skip';
      if (typeof decision === 'object' && typeof decision.deferMs === 'number') {
        assertDuration(decision.deferMs, 'beforeSchedule deferMs');
        return decision.deferMs;
      }
      throw new TypeError(`component ${component.name ?? '(unnamed)'} beforeSchedule must answer 'continue', 'skip' or { deferMs }, got ${describe(decision)}`);
    }
    return 'continue';
  }

  /** Drops the deferred runs of a cancelled workflow (or all, at shutdown). */
  dropDeferred(wf?: LiveWorkflow): void {
    for (const deferral of [...this.#deferrals]) {
      if (wf !== undefined && deferral.wf !== wf) continue;
      clearTimeout(deferral.timer);
      this.#deferrals.delete(deferral);
      this.#ctx.spawn(async () => {
        try {
          await this.#unstarted(deferral.agent, deferral.run, deferral.wf);
        } finally {
          this.#ctx.counters.deferralEnded(deferral.wf);
        }
      });
    }
  }
}
