/**
 * The completion unit: a claimed run ends in one call of the store, guarded by its claim (owner and
 * attempt). Its outputs (validated, routed) and the runs and gate deposits they cause go in the same
 * unit, keyed by (run id, output index) so that a run executed again never applies an output twice;
 * streaming outputs are applied one by one the same way. A failure writes its `AgentFailed` fact and
 * its dead letter in the same unit. If the claim was lost, nothing is applied and the run counts as
 * cancelled here (its new owner runs it).
 */
import { CancelledError } from '../../core/errors.js';
import { isThenable } from '../../core/task.js';
import { embargoEnd } from '../visibility.js';
import { checkTags, checkVisibility, EMPTY, type AnyArtifactType, type Artifact, type Draft } from '../artifact.js';
import { AgentFailed, BOARD, summarizeError } from '../builtins.js';
import { OutputError } from '../errors.js';
import { RunContext, type ActiveRun } from '../run-context.js';
import type { BoardStore, ClaimedRun, ClaimRef, Completion as StoreCompletion, CompletionItem, DeadLetter, OutputWrite, RunRecord, UnitResult } from '../store/contract.js';
import type { LiveAgent, LiveWorkflow } from './live.js';
import type { Pipeline } from './pipeline.js';
import { visibilityOfFactAbout } from './units.js';

/** A run whose claim passed to another attempt: its effects are that attempt's to apply. */
export class ClaimLostError extends Error {
  override readonly name = 'ClaimLostError';
}

/**
 * The store failed to record a run's completion (it threw or rejected, as a lost connection or a
 * deadlock retried to the end does; it did not answer `lost` or `cancelled`). Whether the unit
 * applied is unknown, and the agent did nothing wrong: the run is handed back to its queue and run
 * again, never failed into a dead letter. Its outputs are keyed by (run, index), so a unit that did
 * apply is not applied twice.
 */
export class CompletionWriteError extends Error {
  override readonly name = 'CompletionWriteError';
}

interface Queued {
  readonly item: CompletionItem;
  readonly resolve: (result: UnitResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit of completions: a completion is written at once when no write is in flight; those
 * that end while one is (for a store answering with promises: until it settles; for a synchronous
 * store that asks for it with `groupCommit`: until the end of the current turn of the event loop) are
 * written together in the next one, with the store's `completeMany`, each keeping its own guard and
 * its own result. A store that asks for `groupCommit` and answers with promises (seen on its first
 * write) has even the first completion wait for the end of its turn, so that the runs ending together
 * share its write. A store without `completeMany` gets `complete` per run.
 */
export class CompletionWriter {
  readonly #store: BoardStore;
  #queue: Queued[] = [];
  #busy = false;
  /** The store answered a write with a promise (then a write waits for the end of its turn when the store asks for grouping). */
  #answersLater = false;
  readonly #drain = (): void => this.#flush();

  constructor(store: BoardStore) {
    this.#store = store;
  }

  write(claim: ClaimRef, completion: StoreCompletion): UnitResult | Promise<UnitResult> {
    const store = this.#store;
    if (store.completeMany === undefined) return store.complete(claim, completion, Date.now());
    if (this.#busy || (this.#answersLater && store.groupCommit === true)) {
      const queued = new Promise<UnitResult>((resolve, reject) => {
        this.#queue.push({ item: { claim, completion }, resolve, reject });
      });
      if (!this.#busy) {
        // A store worth grouping for that answers with promises: the completions that end in this
        // turn (the runs of one claim, whose bodies answered at once) go in one write, not the first
        // alone and the rest in the next.
        this.#busy = true;
        setImmediate(this.#drain);
      }
      return queued;
    }
    const result = store.complete(claim, completion, Date.now());
    if (isThenable(result)) {
      this.#answersLater = true;
      this.#busy = true;
      return Promise.resolve(result).finally(this.#drain);
    }
    if (store.groupCommit === true) {
      this.#busy = true;
      setImmediate(this.#drain);
    }
    return result;
  }

  /** Writes what queued meanwhile, in one call; the window stays open until a turn passes with nothing queued. */
  #flush(): void {
    const queued = this.#queue;
    if (queued.length === 0) {
      this.#busy = false;
      return;
    }
    this.#queue = [];
    let written;
    try {
      const items = queued.map((entry) => entry.item);
      written = queued.length === 1 ? this.#store.complete(items[0]!.claim, items[0]!.completion, Date.now()) : this.#store.completeMany!(items, Date.now());
    } catch (error) {
      for (const entry of queued) entry.reject(error);
      setImmediate(this.#drain);
      return;
    }
    if (isThenable(written)) {
      this.#answersLater = true;
      Promise.resolve(written as Promise<UnitResult | readonly PromiseSettledResult<UnitResult>[]>).then(
        (done) => {
          settle(queued, done);
          this.#flush();
        },
        (error: unknown) => {
          for (const entry of queued) entry.reject(error);
          this.#flush();
        },
      );
      return;
    }
    settle(queued, written);
    setImmediate(this.#drain);
  }
}

function settle(queued: readonly Queued[], done: UnitResult | readonly PromiseSettledResult<UnitResult>[]): void {
  if (!Array.isArray(done)) {
    queued[0]!.resolve(done as UnitResult);
    return;
  }
  const outcomes = done as readonly PromiseSettledResult<UnitResult>[];
  for (let i = 0; i < queued.length; i++) {
    const outcome = outcomes[i];
    if (outcome === undefined) queued[i]!.reject(new Error(`the store answered ${outcomes.length} results for ${queued.length} completions`));
    else if (outcome.status === 'fulfilled') queued[i]!.resolve(outcome.value);
    else queued[i]!.reject(outcome.reason);
  }
}

export class Completion {
  readonly #ctx: Pipeline;
  readonly #writer: CompletionWriter;

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
    this.#writer = new CompletionWriter(ctx.store);
  }

  /** Applies one output now (a yield, `ctx.publish`), guarded by the claim. */
  async emit(active: ActiveRun, draft: Draft): Promise<Artifact> {
    const ctx = this.#ctx;
    ctx.counters.publishStarted(active.wf);
    try {
      const [output] = await this.#outputs(active, [draft]);
      let result: UnitResult;
      try {
        const stored = ctx.store.emit(active.claim, [output!], Date.now());
        result = isThenable(stored) ? await stored : stored;
      } catch (error) {
        // Not the agent's failure: a body that lets it through has its run handed back, not failed.
        throw writeFailed(error);
      }
      this.#check(result, active.run);
      ctx.units.applied(result, [output!.artifact], output!.deposits.length > 0);
      (active.streamed ??= []).push(output!.artifact);
      return output!.artifact;
    } finally {
      ctx.counters.publishEnded(active.wf);
    }
  }

  /**
   * Ends a run that succeeded: its remaining outputs in the completion unit. Returns all it
   * published; the executor reports it finished once its span and postPublish hooks are done.
   * Synchronous when preparing the outputs and the store are (no queue to wait for).
   */
  finish(active: ActiveRun, drafts: readonly Draft[]): readonly Artifact[] | Promise<readonly Artifact[]> {
    const outputs = drafts.length === 0 ? [] : this.#outputs(active, drafts);
    return isThenable(outputs) ? outputs.then((ready) => this.#complete(active, ready)) : this.#complete(active, outputs);
  }

  #complete(active: ActiveRun, outputs: OutputWrite[]): readonly Artifact[] | Promise<readonly Artifact[]> {
    let stored;
    try {
      stored = this.#writer.write(active.claim, { outcome: 'finished', outputs });
    } catch (error) {
      throw writeFailed(error);
    }
    return isThenable(stored)
      ? Promise.resolve(stored).then(
          (result) => this.#completed(active, outputs, result),
          (error: unknown) => {
            throw writeFailed(error);
          },
        )
      : this.#completed(active, outputs, stored);
  }

  /**
   * Ends a run whose completion the store failed to record ({@link CompletionWriteError}): reported
   * as an `error` event, then handed back to its queue (`released`) to run again, here or on another
   * worker. If the store cannot take the hand-back either, the run stays claimed until its lease
   * ends and a board requeues it (or, on a store of one board, until the board is opened again).
   */
  async handBack(active: ActiveRun, error: CompletionWriteError): Promise<void> {
    const ctx = this.#ctx;
    const { agent, run, wf } = active;
    ctx.internalError('recording a completion', agent.spec.name, error.cause);
    let released = false;
    try {
      const done = this.#writer.write(active.claim, { outcome: 'released' });
      const result = isThenable(done) ? await done : done;
      released = result.status === 'applied';
    } catch (releaseError) {
      ctx.internalError('handing a run back', agent.spec.name, releaseError);
    }
    if (released) {
      // Queued again before it stops running, so that its workflow never looks settled in between.
      ctx.counters.runQueued(agent, wf);
      ctx.counters.runEnded(agent, wf, 'requeued');
      ctx.dispatcher.wake(agent);
    } else {
      this.reportCancelled(run, error);
      ctx.counters.runEnded(agent, wf, 'cancelled');
    }
  }

  #completed(active: ActiveRun, outputs: readonly OutputWrite[], result: UnitResult): readonly Artifact[] {
    this.#check(result, active.run);
    const artifacts = new Array<Artifact>(outputs.length);
    let deposited = false;
    for (let i = 0; i < outputs.length; i++) {
      artifacts[i] = outputs[i]!.artifact;
      if (outputs[i]!.deposits.length > 0) deposited = true;
    }
    this.#ctx.units.applied(result, artifacts, deposited);
    return active.streamed === undefined ? artifacts : [...active.streamed, ...artifacts];
  }

  /** Ends a run that failed for good: error hooks, components, then the fact and the dead letter in one unit. */
  async fail(active: ActiveRun, error: unknown): Promise<void> {
    const ctx = this.#ctx;
    const { agent, run, wf, inputs, attempts, startedAt } = active;
    if (error instanceof ClaimLostError) return this.cancel(agent, run, wf, error, false);
    const runCtx = new RunContext(ctx.executor.host, active, attempts, inputs, undefined);
    for (const hooks of agent.spec.hooks) {
      if (hooks.error === undefined) continue;
      try {
        await hooks.error(error, runCtx);
      } catch {
        // An error hook that fails cannot make the failure worse; the original error is reported.
      }
    }
    for (const component of ctx.components) {
      if (component.onError === undefined) continue;
      try {
        await component.onError(error, { agent: agent.spec.name, runId: run.id, correlationId: run.correlationId, inputs, attempts });
      } catch {
        // Same as above.
      }
    }
    const letter: DeadLetter = { id: ctx.ids.next(), run, error: summarizeError(error), attempts, failedAt: new Date(Date.now()).toISOString() };
    let facts: Artifact[] = [];
    try {
      const payload = { agent: agent.spec.name, runId: run.id, inputIds: run.inputIds, attempts, error: letter.error, deadLetterId: letter.id };
      const fact = ctx.units.traced(
        await ctx.intake.prepare(AgentFailed as AnyArtifactType, payload, {
          producedBy: BOARD,
          correlationId: run.correlationId,
          tags: EMPTY,
          visibility: visibilityOfFactAbout(inputs),
          causedBy: run.inputIds,
          publisher: { kind: 'board' },
        }),
      );
      const completion: StoreCompletion = { outcome: 'failed', fact: ctx.router.route(fact), deadLetter: letter };
      const stored = this.#writer.write(active.claim, completion);
      const result = isThenable(stored) ? await stored : stored;
      if (result.status === 'applied') facts = [fact];
      if (result.status !== 'lost') ctx.units.applied(result, facts, completion.fact.deposits.length > 0);
    } catch (storeError) {
      ctx.internalError('recording a failure', agent.spec.name, storeError);
    }
    if (ctx.events.listening) {
      ctx.events.emit({ kind: 'failed', at: Date.now(), runId: run.id, agent: run.agent, correlationId: run.correlationId, durationMs: Date.now() - startedAt, attempts, error: letter.error });
    }
    ctx.counters.runEnded(agent, wf, 'failed');
  }

  /**
   * Ends a started run that was aborted (its workflow cancelled, the board shutting down). At
   * shutdown the run is handed back to the store's queue instead, so that a durable store resumes it.
   */
  async cancel(agent: LiveAgent, run: ClaimedRun, wf: LiveWorkflow, reason: unknown, tellStore = true): Promise<void> {
    const ctx = this.#ctx;
    if (tellStore) {
      try {
        const done = this.#writer.write({ runId: run.id, owner: run.owner, attempt: run.attempt }, { outcome: ctx.closed && wf.state !== 'cancelled' ? 'released' : 'cancelled' });
        if (isThenable(done)) await done;
      } catch {
        // A store that cannot record a cancellation must not turn it into a failure.
      }
    }
    this.reportCancelled(run, reason);
    ctx.counters.runEnded(agent, wf, 'cancelled');
  }

  /** Ends a claimed run whose activation condition did not hold: without effects, counted as skipped. */
  async skip(agent: LiveAgent, run: ClaimedRun, wf: LiveWorkflow): Promise<void> {
    try {
      const done = this.#writer.write({ runId: run.id, owner: run.owner, attempt: run.attempt }, { outcome: 'cancelled' });
      if (isThenable(done)) await done;
    } catch (error) {
      this.#ctx.internalError('ending a skipped run', agent.spec.name, error);
    }
    this.#ctx.counters.runEnded(agent, wf, 'skipped');
  }

  /** Ends a claimed run that never started (held by a component, then skipped or cancelled). */
  async cancelUnstarted(agent: LiveAgent, run: ClaimedRun, wf: LiveWorkflow, counted = true): Promise<void> {
    const ctx = this.#ctx;
    try {
      const done = this.#writer.write({ runId: run.id, owner: run.owner, attempt: run.attempt }, { outcome: 'cancelled' });
      if (isThenable(done)) await done;
    } catch (error) {
      ctx.internalError('ending a held run', agent.spec.name, error);
    }
    if (!counted) return;
    ctx.counters.queuedRunCancelled(agent);
    this.reportCancelled(run, ctx.closed ? ctx.scope.signal.reason : wf.controller?.signal.reason);
  }

  /** A finished run, once everything it does is done. */
  reportFinished(active: ActiveRun, outputs: number): void {
    const ctx = this.#ctx;
    const { agent, run, wf } = active;
    if (ctx.events.listening) {
      const at = Date.now();
      ctx.events.emit({ kind: 'finished', at, runId: run.id, agent: run.agent, correlationId: run.correlationId, durationMs: at - active.startedAt, outputs });
    }
    ctx.counters.runEnded(agent, wf, 'done');
  }

  reportCancelled(run: RunRecord, reason: unknown): void {
    const ctx = this.#ctx;
    if (ctx.events.listening) {
      ctx.events.emit({ kind: 'cancelled', at: Date.now(), runId: run.id, agent: run.agent, correlationId: run.correlationId, reason: summarizeError(reason).message });
    }
  }

  /** A unit the store did not apply: the claim is gone, or the workflow was cancelled. */
  #check(result: UnitResult, run: ClaimedRun): void {
    if (result.status === 'lost') throw new ClaimLostError(`run ${run.id} (attempt ${run.attempt}) lost its claim; its outputs were not applied`);
    if (result.status === 'cancelled') throw new CancelledError(`workflow ${run.correlationId} was cancelled`);
  }

  /**
   * Validates and routes a run's drafts as outputs, numbered from the run's next output index, then
   * waits where a consuming agent's queue is full and waiting cannot deadlock (edges on a cycle of the
   * agent graph never wait; the per-workflow run limit bounds those).
   */
  #outputs(active: ActiveRun, drafts: readonly Draft[]): OutputWrite[] | Promise<OutputWrite[]> {
    const { agent, inputs } = active;
    const outputs: OutputWrite[] = [];
    const causedBy = inputs.map((input) => input.id);
    const lineage = lineageOf(inputs, agent.spec.name);
    for (let i = 0; i < drafts.length; i++) {
      const prepared = this.#prepare(active, drafts[i]!, causedBy, lineage);
      if (isThenable(prepared)) return this.#outputsSlowly(active, drafts, i, prepared, outputs, causedBy, lineage);
      outputs.push(this.#output(active, prepared));
    }
    return this.#roomForAll(agent, outputs);
  }

  /** The rest of `#outputs` once a preparation turned out asynchronous (an async schema or component). */
  async #outputsSlowly(
    active: ActiveRun,
    drafts: readonly Draft[],
    from: number,
    first: Promise<Artifact>,
    outputs: OutputWrite[],
    causedBy: readonly string[],
    lineage: readonly string[],
  ): Promise<OutputWrite[]> {
    outputs.push(this.#output(active, await first));
    for (let i = from + 1; i < drafts.length; i++) {
      const prepared = this.#prepare(active, drafts[i]!, causedBy, lineage);
      outputs.push(this.#output(active, isThenable(prepared) ? await prepared : prepared));
    }
    return this.#roomForAll(active.agent, outputs);
  }

  #prepare(active: ActiveRun, draft: Draft, causedBy: readonly string[], lineage: readonly string[]): Artifact | Promise<Artifact> {
    const { agent, run } = active;
    const declared = agent.spec.publishes.get(draft.type.name);
    if (declared === undefined || declared.type !== draft.type) {
      throw new OutputError(`agent '${agent.spec.name}' does not publish ${draft.type.name}; declare publishes(${draft.type.name})`);
    }
    const extraTags = checkTags(draft.options?.tags, 'output tags');
    return this.#ctx.intake.prepare(declared.type, draft.payload, {
      producedBy: agent.spec.name,
      correlationId: run.correlationId,
      tags: extraTags.length === 0 ? declared.tags : [...new Set([...declared.tags, ...extraTags])],
      visibility: draft.options?.visibility === undefined ? declared.visibility : checkVisibility(draft.options.visibility, 'output visibility'),
      causedBy,
      lineage,
      publisher: agent.publisher,
      visibleAt: embargoEnd(draft.options?.visibleAt !== undefined || draft.options?.visibleAfterMs !== undefined ? draft.options : declared, Date.now()),
    });
  }

  /** An output routed, numbered from the run's next output index. */
  #output(active: ActiveRun, artifact: Artifact): OutputWrite {
    return this.#ctx.router.routeOutput(this.#ctx.units.traced(artifact), active.nextOutput++);
  }

  /**
   * Waits where a consuming agent's queue is full and waiting cannot deadlock. Awaited only where a
   * queue is full: an await per output costs a turn of the microtask queue.
   */
  #roomForAll(from: LiveAgent, outputs: OutputWrite[]): OutputWrite[] | Promise<OutputWrite[]> {
    for (const output of outputs) {
      for (const run of output.runs) if (this.#mustWait(run.agent, from)) return this.#waitForRoom(from, outputs);
      for (const deposit of output.deposits) if (this.#mustWait(deposit.agent, from)) return this.#waitForRoom(from, outputs);
    }
    return outputs;
  }

  async #waitForRoom(from: LiveAgent, outputs: OutputWrite[]): Promise<OutputWrite[]> {
    for (const output of outputs) {
      for (const run of output.runs) {
        const waiting = this.#roomFor(run.agent, from);
        if (waiting !== undefined) await waiting;
      }
      for (const deposit of output.deposits) {
        const waiting = this.#roomFor(deposit.agent, from);
        if (waiting !== undefined) await waiting;
      }
    }
    return outputs;
  }

  /** True when `name`'s queue is full and `name` cannot lead back to `from`. */
  #mustWait(name: string, from: LiveAgent): boolean {
    const ctx = this.#ctx;
    const target = ctx.agents.get(name);
    return target !== undefined && target.queued >= target.capacity && !ctx.router.reaches(name, from.spec.name);
  }

  /**
   * Waits while `name`'s queue is full, unless `name` can lead back to `from` (a cycle: the run limit
   * bounds those). Runs wait on queued runs only, never on places reserved by external publishes: an
   * external publish may hold a reservation while it waits for another agent, whose runs must not wait for it.
   */
  #roomFor(name: string, from: LiveAgent): Promise<void> | undefined {
    const ctx = this.#ctx;
    if (!this.#mustWait(name, from)) return undefined;
    const target = ctx.agents.get(name)!;
    return (async () => {
      while (target.queued >= target.capacity) await ctx.intake.waitForRoom(target);
    })();
  }
}

const NO_LINEAGE: readonly string[] = Object.freeze([]);
/** Lineages are shared: one frozen array per (parent lineage, agent), not one per artifact. */
const extended = new WeakMap<readonly string[], Map<string, readonly string[]>>();

/** The lineage of an output of `agent` made from `inputs`: theirs, plus `agent`. */
function lineageOf(inputs: readonly Artifact[], agent: string): readonly string[] {
  let parent = inputs[0]?.lineage ?? NO_LINEAGE;
  for (let i = 1; i < inputs.length; i++) {
    const other = inputs[i]!.lineage;
    if (other !== undefined && other !== parent) parent = Object.freeze([...new Set([...parent, ...other])]);
  }
  if (parent.includes(agent)) return parent;
  let children = extended.get(parent);
  if (children === undefined) extended.set(parent, (children = new Map<string, readonly string[]>()));
  let lineage = children.get(agent);
  if (lineage === undefined) children.set(agent, (lineage = Object.freeze([...parent, agent])));
  return lineage;
}

function writeFailed(error: unknown): CompletionWriteError {
  return new CompletionWriteError(`the store failed to record the run's completion: ${summarizeError(error).message}`, { cause: error });
}
