/**
 * The publish unit: one artifact (or a board fact, or a flushed gate) stored with the runs and gate
 * deposits it causes, in one call of the store. Then this process catches up with what the store
 * did: created runs are counted and their agents woken, a new gate deadline is armed, and a run limit
 * reached is reported (once, as a `LoopDetected` fact, and as `skipped` events).
 */
import { AsyncResource } from 'node:async_hooks';
import { CancelledError } from '../../core/errors.js';
import { isThenable } from '../../core/task.js';
import { EMPTY, type AnyArtifactType, type Artifact, type ArtifactType } from '../artifact.js';
import { BOARD, LoopDetected } from '../builtins.js';
import type { PublishUnit, UnitResult } from '../store/contract.js';
import type { Visibility } from '../visibility.js';
import type { Origin } from './intake.js';
import type { Pipeline } from './pipeline.js';

const PUBLIC: Visibility = Object.freeze({ kind: 'public' });
const BOARD_PUBLISHER = Object.freeze({ kind: 'board' as const });

export class Units {
  readonly #ctx: Pipeline;

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
  }

  /**
   * Validates, stores and routes one artifact in one unit. Rejects when the store refuses the unit
   * (nothing stored), with a `CancelledError` for a cancelled workflow.
   */
  async publishOne(type: AnyArtifactType, payload: unknown, origin: Origin): Promise<Artifact> {
    const ctx = this.#ctx;
    const wf = ctx.workflows.ensure(origin.correlationId);
    ctx.intake.assertNotCancelled(wf, origin.correlationId);
    ctx.counters.publishStarted(wf);
    try {
      const prepared = ctx.intake.prepare(type, payload, origin);
      let artifact = isThenable(prepared) ? await prepared : prepared;
      const span = ctx.tracing.start(`publish ${type.name}`, {
        'skein.artifact.type': type.name,
        'skein.artifact.id': artifact.id,
        'skein.correlation_id': artifact.correlationId,
        'skein.produced_by': artifact.producedBy,
      });
      if (span !== undefined) artifact = { ...artifact, trace: ctx.tracing.ref(span) };
      Object.freeze(artifact);
      try {
        const unit: PublishUnit = { writes: [ctx.router.route(artifact)], now: Date.now() };
        const stored = ctx.store.publish(unit);
        const result = isThenable(stored) ? await stored : stored;
        if (result.status === 'cancelled') throw new CancelledError(`workflow ${origin.correlationId} was cancelled`);
        const deposited = unit.writes[0]!.deposits.length > 0;
        if (span === undefined) this.applied(result, [artifact], deposited);
        else ctx.tracing.with(span, () => this.applied(result, [artifact], deposited));
        ctx.tracing.end(span);
      } catch (error) {
        ctx.tracing.end(span, error);
        throw error;
      }
      return artifact;
    } finally {
      ctx.counters.publishEnded(wf);
    }
  }

  /**
   * Catches up with a unit the store applied: counts and announces the artifacts and runs, wakes the
   * agents, arms the next gate deadline (or moves it when a deposit may have closed the gate it
   * waited for), reports run limits. Runs execute in the async context this
   * is called in (AsyncLocalStorage, OpenTelemetry): the publisher's.
   */
  applied(result: UnitResult, artifacts: readonly Artifact[], deposited = false): void {
    const ctx = this.#ctx;
    // An artifact held under an embargo is stored (and announced) when it is released, not now.
    const router = ctx.router;
    const stored = artifacts.some((artifact) => router.isHeld(artifact)) ? artifacts.filter((artifact) => !router.isHeld(artifact)) : artifacts;
    ctx.counters.artifactsStored(stored.length);
    if (ctx.events.listening && stored.length > 0) {
      // The clock is read once per unit, and not at all when the unit queued runs: they carry its time
      // (`enqueuedAt`, the board's clock when the store applied it). Reading the clock is a system call
      // on some machines, and the board would otherwise read it again for each event.
      const at = result.runs.length > 0 ? result.runs[0]!.enqueuedAt : Date.now();
      for (const artifact of stored) {
        ctx.events.emit({ kind: 'published', at, artifactId: artifact.id, type: artifact.type, producedBy: artifact.producedBy, correlationId: artifact.correlationId });
      }
    }
    for (const run of result.runs) {
      const agent = ctx.agents.get(run.agent);
      if (agent === undefined) continue;
      ctx.counters.runQueued(agent, ctx.workflows.ensure(run.correlationId));
      ctx.dispatcher.remember(run.id, new AsyncResource('skein.board.run'));
      if (ctx.events.listening) {
        ctx.events.emit({ kind: 'scheduled', at: run.enqueuedAt, runId: run.id, agent: run.agent, correlationId: run.correlationId, inputIds: run.inputIds });
      }
      ctx.dispatcher.wake(agent);
    }
    if (result.nextDeadline !== undefined) ctx.deadlines.arm(result.nextDeadline);
    else if (deposited) ctx.deadlines.recheck();
    for (const limit of result.limited) {
      ctx.skipped(limit.agent, limit.correlationId, limit.inputIds, `run limit of ${limit.limit} per workflow reached`);
      if (!limit.first) continue;
      const reason = `agent '${limit.agent}' reached its limit of ${limit.limit} runs in workflow ${limit.correlationId}; further runs were not scheduled`;
      ctx.internalError('run limit', limit.agent, new RangeError(reason));
      void this.publishFact(LoopDetected, { agent: limit.agent, limit: limit.limit, reason }, limit.correlationId, limit.inputIds).catch((error: unknown) => {
        if (!ctx.closed) ctx.internalError('reporting a run limit', limit.agent, error);
      });
    }
  }

  /**
   * Opens and closes the `publish` span of an artifact stored inside a larger unit (an output, a
   * fact), child of the active span, and returns the artifact frozen with its trace reference.
   */
  traced(artifact: Artifact): Artifact {
    const tracing = this.#ctx.tracing;
    const span = tracing.start(`publish ${artifact.type}`, {
      'skein.artifact.type': artifact.type,
      'skein.artifact.id': artifact.id,
      'skein.correlation_id': artifact.correlationId,
      'skein.produced_by': artifact.producedBy,
    });
    if (span === undefined) return Object.freeze(artifact);
    tracing.end(span);
    return Object.freeze({ ...artifact, trace: tracing.ref(span) });
  }

  /**
   * Publishes what the board itself has to say about some inputs (a stopped loop, an expired join) in
   * a workflow. The fact inherits the visibility of those inputs, so only agents that could see them
   * can see it.
   */
  async publishFact<T>(type: ArtifactType<T>, payload: T, correlationId: string, causedBy: readonly string[]): Promise<Artifact> {
    const visibility = await this.factVisibility(causedBy);
    return this.publishOne(type as AnyArtifactType, payload, { producedBy: BOARD, correlationId, tags: EMPTY, visibility, causedBy, publisher: BOARD_PUBLISHER });
  }

  /** The visibility a fact about `inputIds` gets: public when they all are, else the first restricted one's. */
  async factVisibility(inputIds: readonly string[], known?: readonly Artifact[]): Promise<Visibility> {
    let inputs = known;
    if (inputs === undefined) {
      const found = this.#ctx.store.getArtifacts(inputIds);
      inputs = (isThenable(found) ? await found : found).filter((artifact) => artifact !== undefined);
    }
    return visibilityOfFactAbout(inputs);
  }
}

/** Public when every input is; otherwise the first restricted input's visibility. */
export function visibilityOfFactAbout(inputs: readonly Artifact[]): Visibility {
  for (const input of inputs) if (input.visibility.kind !== 'public') return input.visibility;
  return PUBLIC;
}
