/**
 * Deadlines: batches that time out, joins that expire, embargoes that end. One timer, armed for the
 * earliest deadline the store reported; when it fires, the due gates are read from the store and each
 * is closed in a publish unit guarded by the gate's version (a batch's run, or a `JoinExpired` fact
 * with its own runs), and each held artifact whose embargo ended is released in a publish unit
 * guarded by its being still held (it is stored, routed now, and scheduled), so that any number of
 * processes may flush the same store and each gate closes once, each artifact is released once.
 */
import { isThenable } from '../../core/task.js';
import { drainDue } from './drain-due.js';
import type { Artifact } from '../artifact.js';
import { BOARD, JoinExpired } from '../builtins.js';
import type { ArtifactWrite, GateClose, NewRun } from '../store/contract.js';
import { entryIds, expireGate, type GateEntry, type GateState } from '../store/gate-state.js';
import type { Pipeline } from './pipeline.js';
import { MAX_TIMER_MS } from '../../core/validate.js';

const FLUSH_BATCH = 64;
/** When every due gate belongs to agents this board lacks, look again this much later. */
const FOREIGN_RETRY_MS = 1_000;

export class Deadlines {
  readonly #ctx: Pipeline;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #at: number | undefined;
  #flushing = false;

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
  }

  /** A deadline is armed or being handled: a batch or join waits on its timer, which is work. */
  get armed(): boolean {
    return this.#timer !== undefined || this.#flushing;
  }

  /** Due gates are being closed now. */
  get flushing(): boolean {
    return this.#flushing;
  }

  /** Makes sure the timer fires by `deadline` (epoch ms). */
  arm(deadline: number): void {
    if (this.#ctx.closed || (this.#at !== undefined && this.#at <= deadline)) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#at = deadline;
    this.#ctx.counters.busy = true;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#at = undefined;
      this.#flushing = true;
      this.#ctx.spawn(() => this.#flush());
    }, Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now()))); // a later deadline (an embargo next month) is armed again when this fires
  }

  /** Asks the store for the next deadline and arms it (after a resume, a cancel, a flush). */
  async rearm(): Promise<void> {
    const next = this.#ctx.store.nextDeadline();
    const at = isThenable(next) ? await next : next;
    if (at !== undefined) this.arm(at);
    else this.#ctx.idle.check();
  }

  /**
   * A unit may have closed the gate the timer waits for (a batch filled, a join completed, a workflow
   * cancelled): moves the timer to the store's next deadline, or clears it.
   */
  recheck(): void {
    if (this.#timer === undefined) return;
    try {
      const next = this.#ctx.store.nextDeadline();
      if (isThenable(next)) next.then((at) => this.#moveTo(at), (error: unknown) => this.#ctx.internalError('gate deadlines', undefined, error));
      else this.#moveTo(next);
    } catch (error) {
      this.#ctx.internalError('gate deadlines', undefined, error);
    }
  }

  #moveTo(at: number | undefined): void {
    if (at !== undefined && at === this.#at) return;
    this.disarm();
    if (at !== undefined) this.arm(at);
    else this.#ctx.idle.check();
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = undefined;
  }

  async #flush(): Promise<void> {
    const ctx = this.#ctx;
    let closed = 0;
    try {
      for (;;) {
        if (ctx.closed) return;
        const now = Date.now();
        const found = ctx.store.dueGates(now, FLUSH_BATCH);
        const due = isThenable(found) ? await found : found;
        let progress = 0;
        for (const gate of due) {
          const agent = ctx.agents.get(gate.agent);
          if (agent === undefined) continue;
          try {
            if (await this.#close(gate, now)) progress++;
          } catch (error) {
            if (!ctx.closed) ctx.internalError('batch or join deadline', gate.agent, error);
          }
        }
        closed += progress;
        if (due.length < FLUSH_BATCH || progress === 0) break;
      }
      closed += await this.#releaseEmbargoes();
      const next = ctx.store.nextDeadline();
      const at = isThenable(next) ? await next : next;
      if (at !== undefined) this.arm(closed === 0 && at <= Date.now() ? Date.now() + FOREIGN_RETRY_MS : at);
    } catch (error) {
      if (!ctx.closed) ctx.internalError('batch or join deadline', undefined, error);
    } finally {
      this.#flushing = false;
      ctx.idle.check();
    }
  }

  /** Releases the held artifacts whose embargo ended, each in a unit of its own; answers how many this process released. */
  async #releaseEmbargoes(): Promise<number> {
    const ctx = this.#ctx;
    return drainDue(ctx, {
      read: (now) => ctx.store.dueEmbargoes(now, FLUSH_BATCH),
      apply: (artifact, now) => this.#release(artifact, now),
      failed: (_artifact, error) => ctx.internalError('releasing an embargoed artifact', undefined, error),
      batchSize: FLUSH_BATCH,
    });
  }

  /** Releases one held artifact: stored and routed now (its embargo ended); false when another process released it first. */
  async #release(artifact: Artifact, now: number): Promise<boolean> {
    const ctx = this.#ctx;
    const wf = ctx.workflows.ensure(artifact.correlationId);
    ctx.counters.publishStarted(wf);
    try {
      const stored = ctx.store.publish({ writes: [ctx.router.route(artifact)], releases: [artifact.id], now });
      const result = isThenable(stored) ? await stored : stored;
      if (result.status !== 'applied') return false;
      ctx.units.applied(result, [artifact]);
      return true;
    } finally {
      ctx.counters.publishEnded(wf);
    }
  }

  /** Closes one due gate in one unit; false when another process (or a deposit) changed it first. */
  async #close(gate: GateState, now: number): Promise<boolean> {
    const ctx = this.#ctx;
    const agent = ctx.agents.get(gate.agent)!;
    const subscription = agent.spec.subscriptions[gate.subscription];
    const version = gate.version; // expireGate bumps the copy's version; the store checks the stored one
    const { taken } = expireGate(gate, now);
    let run: NewRun | undefined;
    let writes: ArtifactWrite[] = [];
    let facts: Artifact[] = [];
    if (gate.kind === 'batch') {
      const entries = taken[0]!;
      if (entries.length > 0) {
        run = {
          id: ctx.ids.next(),
          agent: gate.agent,
          subscription: gate.subscription,
          inputIds: entries.flatMap(entryIds),
          correlationId: entries[0]!.correlationId,
          runLimit: agent.spec.maxRunsPerWorkflow === Infinity ? undefined : agent.spec.maxRunsPerWorkflow,
        };
      }
    } else {
      const join = subscription?.join;
      facts = await this.#expiryFacts(gate, taken, { withinMs: join?.withinMs ?? gate.windowMs, withinLast: join?.withinLast ?? gate.maxWaiting });
      writes = facts.map((fact) => ctx.router.route(fact));
    }
    const wfs = facts.map((fact) => ctx.workflows.ensure(fact.correlationId));
    for (const wf of wfs) ctx.counters.publishStarted(wf);
    try {
      const close: GateClose = { key: gate.key, version, run };
      const stored = ctx.store.publish({ writes, closeGates: [close], now });
      const result = isThenable(stored) ? await stored : stored;
      if (result.status !== 'applied') return false;
      ctx.units.applied(result, facts);
      return true;
    } finally {
      for (const wf of wfs) ctx.counters.publishEnded(wf);
    }
  }

  /** One `JoinExpired` fact per workflow whose artifacts the expiry took. */
  async #expiryFacts(
    gate: GateState,
    taken: readonly (readonly GateEntry[])[],
    windows: { readonly withinMs: number | undefined; readonly withinLast: number | undefined },
  ): Promise<Artifact[]> {
    const ctx = this.#ctx;
    const byWorkflow = new Map<string, { id: string; type: string; position: number }[]>();
    taken.forEach((entries, position) => {
      for (const entry of entries) {
        let list = byWorkflow.get(entry.correlationId);
        if (list === undefined) byWorkflow.set(entry.correlationId, (list = []));
        list.push({ id: entry.artifactId, type: gate.typeNames[position]!, position });
      }
    });
    const facts: Artifact[] = [];
    for (const [correlationId, received] of byWorkflow) {
      const positions = new Set(received.map((r) => r.position));
      const missing = gate.typeNames.filter((_, i) => !positions.has(i));
      const ids = received.map((r) => r.id);
      const payload = {
        agent: gate.agent,
        key: gate.joinKey ?? correlationId,
        ...(windows.withinMs === undefined ? {} : { withinMs: windows.withinMs }),
        ...(windows.withinLast === undefined ? {} : { withinLast: windows.withinLast }),
        received: received.map(({ id, type }) => ({ id, type })),
        missing,
      };
      const visibility = await ctx.units.factVisibility(ids);
      const fact = await ctx.intake.prepare(JoinExpired, payload, {
        producedBy: BOARD,
        correlationId,
        tags: [],
        visibility,
        causedBy: ids,
        publisher: { kind: 'board' },
      });
      facts.push(Object.freeze(fact));
    }
    return facts;
  }
}
