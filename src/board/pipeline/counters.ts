/**
 * Every counter the board keeps changes here, through a method named for what happened. Idle
 * detection, backpressure and `board.stats()` read them; each decrement ends in
 * `workflows.settled(wf)`, which settles workflow waiters and checks board idle.
 */
import type { LiveAgent, LiveWorkflow } from './live.js';
import type { Pipeline } from './pipeline.js';

export class Counters {
  readonly #ctx: Pipeline;
  /** Publishes in progress (validation, components, the unit). */
  publishing = 0;
  /** Runs queued by this board, paused ones included. */
  queued = 0;
  /** Of those, runs of paused workflows. */
  pausedQueued = 0;
  running = 0;
  /** Runs held back by a `beforeSchedule` deferral. */
  deferred = 0;
  published = 0;
  /** Work happened since the last idle transition. */
  busy = false;

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
  }

  publishStarted(wf: LiveWorkflow | undefined): void {
    this.publishing++;
    if (wf !== undefined) wf.publishing++;
    this.busy = true;
  }

  publishEnded(wf: LiveWorkflow | undefined): void {
    this.publishing--;
    if (wf === undefined) this.#ctx.idle.check();
    else {
      wf.publishing--;
      this.#ctx.workflows.settled(wf);
    }
  }

  artifactsStored(count: number): void {
    this.published += count;
  }

  /**
   * A run was queued by this board. Sharing its store, the board does not count queued runs: another
   * board may claim them, and this one claims runs others queued; the store answers for the queues
   * (and `queueCapacity` does not apply: the queue lives in the store).
   */
  runQueued(agent: LiveAgent, wf: LiveWorkflow): void {
    this.busy = true;
    if (this.#ctx.shared !== undefined) return;
    agent.queued++;
    wf.queued++;
    this.queued++;
    if (wf.state === 'paused') this.pausedQueued++;
  }

  /** A queued run left the queue: claimed, or dropped by a cancel or a shutdown. */
  runLeftQueue(agent: LiveAgent, wf: LiveWorkflow, wasPaused = wf.state === 'paused'): void {
    if (this.#ctx.shared !== undefined) return;
    agent.queued--;
    wf.queued--;
    this.queued--;
    if (wasPaused) this.pausedQueued--;
    this.#ctx.intake.roomMade(agent);
  }

  runStarted(agent: LiveAgent, wf: LiveWorkflow): void {
    agent.running++;
    wf.running++;
    this.running++;
  }

  /** A run stopped running: how it ended, or `requeued` (handed back to its queue, counted queued already). */
  runEnded(agent: LiveAgent, wf: LiveWorkflow, outcome: 'done' | 'failed' | 'cancelled' | 'skipped' | 'requeued'): void {
    if (outcome !== 'requeued') agent[outcome]++;
    agent.running--;
    wf.running--;
    this.running--;
    this.#ctx.workflows.settled(wf);
  }

  /** A queued run that never started ended (cancelled with its workflow, or at shutdown). */
  queuedRunCancelled(agent: LiveAgent): void {
    agent.cancelled++;
  }

  retried(agent: LiveAgent): void {
    agent.retries++;
  }

  deferralStarted(wf: LiveWorkflow): void {
    wf.deferred++;
    this.deferred++;
    this.busy = true;
  }

  deferralEnded(wf: LiveWorkflow): void {
    wf.deferred--;
    this.deferred--;
    this.#ctx.workflows.settled(wf);
  }

  workflowPaused(wf: LiveWorkflow): void {
    this.pausedQueued += wf.queued;
  }

  workflowResumed(wf: LiveWorkflow): void {
    this.pausedQueued -= wf.queued;
  }

  /**
   * Nothing in progress in this process, and no gate deadline armed. Sharing the store, only what this
   * process does counts here (a gate deadline being flushed, not one armed); the store answers the rest.
   */
  isIdle(): boolean {
    const local = this.publishing === 0 && this.running === 0 && this.queued - this.pausedQueued === 0 && this.deferred === 0;
    return local && !this.#ctx.timers.busy && (this.#ctx.shared === undefined ? !this.#ctx.deadlines.armed : !this.#ctx.deadlines.flushing);
  }
}
