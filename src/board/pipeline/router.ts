/**
 * The router: which agents an artifact schedules. It matches the subscriptions indexed under the
 * artifact's type (producer, tags, visibility, `where`), once per agent, and turns each match into
 * a run to create or a gate deposit (AND gate, batch, join) for the publish unit. Pure decision:
 * nothing is stored here.
 *
 * Gate scopes: AND gates and batches collect per workflow; a join with a key (`join.by`) collects
 * across workflows (that is what a join by business key is for), and its run belongs to the
 * workflow of its first input in declared order; a join without a key collects per workflow.
 */
import type { Subscription } from '../agent.js';
import type { Artifact } from '../artifact.js';
import { summarizeError } from '../builtins.js';
import type { ArtifactWrite, GateDeposit, NewRun, OutputWrite } from '../store/contract.js';
import { gateKey } from '../store/gate-state.js';
import { isVisibleTo } from '../visibility.js';
import type { LiveAgent, Route } from './live.js';
import type { Pipeline } from './pipeline.js';

const NO_RUNS: readonly NewRun[] = Object.freeze([]);
const NO_DEPOSITS: readonly GateDeposit[] = Object.freeze([]);

function written(artifact: Artifact, runs: readonly NewRun[], deposits: readonly GateDeposit[], index: number | undefined): ArtifactWrite {
  return index === undefined ? { artifact, runs, deposits } : ({ artifact, runs, deposits, index } as OutputWrite);
}

export class Router {
  readonly #ctx: Pipeline;
  /** Artifacts the router held under an embargo (until it routes them again at their release). */
  readonly #held = new WeakSet<Artifact>();
  /** For each agent, the agents its outputs can reach (transitively); rebuilt after an agent is declared. */
  #reach: Map<string, Set<string>> | undefined;

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
  }

  /** Whether the last routing of `artifact` held it under its embargo (it is stored, and announced, when released). */
  isHeld(artifact: Artifact): boolean {
    return this.#held.has(artifact);
  }

  /** Forgets the agent graph: an agent was declared. */
  agentsChanged(): void {
    this.#reach = undefined;
  }

  /** True when `from` can be reached from `to` in the agent graph (so `to` waiting on `from` could deadlock). */
  reaches(to: string, from: string): boolean {
    if (this.#reach === undefined) {
      const reach = new Map<string, Set<string>>();
      const next = (name: string): string[] => {
        const spec = this.#ctx.agents.get(name)?.spec;
        if (spec === undefined) return [];
        const out: string[] = [];
        for (const typeName of spec.publishes.keys()) for (const route of this.#ctx.routes.get(typeName) ?? []) out.push(route.agent.spec.name);
        return out;
      };
      for (const start of this.#ctx.agents.keys()) {
        const seen = new Set<string>();
        const stack = next(start);
        while (stack.length > 0) {
          const name = stack.pop()!;
          if (seen.has(name)) continue;
          seen.add(name);
          stack.push(...next(name));
        }
        reach.set(start, seen);
      }
      this.#reach = reach;
    }
    return to === from || (this.#reach.get(to)?.has(from) ?? false);
  }

  /** The subscriptions that may match artifacts of type `typeName`. */
  routesOf(typeName: string): readonly Route[] | undefined {
    return this.#ctx.routes.get(typeName);
  }

  /** `artifact` with the runs and gate deposits it causes. */
  route(artifact: Artifact): ArtifactWrite {
    return this.#route(artifact, undefined);
  }

  /** The same for a run's output, keyed by its index in the run. */
  routeOutput(artifact: Artifact, index: number): OutputWrite {
    return this.#route(artifact, index) as OutputWrite;
  }

  #route(artifact: Artifact, index: number | undefined): ArtifactWrite {
    if (artifact.visibleAt !== undefined) {
      // Under an embargo nobody may see it, so it schedules nobody yet: the store holds it until it is released and routed again.
      const until = Date.parse(artifact.visibleAt);
      if (until > Date.now()) {
        this.#held.add(artifact);
        const held: ArtifactWrite = { artifact, runs: NO_RUNS, deposits: NO_DEPOSITS, embargoUntil: until };
        return index === undefined ? held : ({ ...held, index } as OutputWrite);
      }
      this.#held.delete(artifact);
    }
    const routes = this.#ctx.routes.get(artifact.type);
    if (routes === undefined) return written(artifact, NO_RUNS, NO_DEPOSITS, index);
    let runs: NewRun[] | undefined;
    let deposits: GateDeposit[] | undefined;
    let triggered: LiveAgent | Set<LiveAgent> | undefined;
    for (const { agent, subscription } of routes) {
      // One artifact triggers an agent at most once, through the first of its subscriptions it matches.
      if (triggered === agent || (triggered instanceof Set && triggered.has(agent))) continue;
      if (!this.#matches(agent, subscription, artifact)) continue;
      if (subscription.batch === undefined && subscription.join === undefined && subscription.types.length === 1) {
        (runs ??= []).push({
          id: this.#ctx.ids.next(),
          agent: agent.spec.name,
          subscription: subscription.index,
          inputIds: [artifact.id],
          correlationId: artifact.correlationId,
          runLimit: this.#limitFor(agent, artifact),
        });
      } else {
        const deposit = this.#deposit(agent, subscription, artifact);
        if (deposit === undefined) continue;
        (deposits ??= []).push(deposit);
      }
      if (agent.spec.triggerPerSubscription) continue;
      if (triggered === undefined) triggered = agent;
      else if (triggered instanceof Set) triggered.add(agent);
      else triggered = new Set([triggered, agent]);
    }
    return written(artifact, runs ?? NO_RUNS, deposits ?? NO_DEPOSITS, index);
  }

  #matches(agent: LiveAgent, subscription: Subscription, artifact: Artifact): boolean {
    const spec = agent.spec;
    if (artifact.producedBy === spec.name && !spec.allowSelfTrigger) return false;
    if (subscription.from !== undefined && !subscription.from.has(artifact.producedBy)) return false;
    for (const tag of subscription.tags) if (!artifact.tags.includes(tag)) return false;
    if (subscription.anyTags !== undefined && !subscription.anyTags.some((tag) => artifact.tags.includes(tag))) return false;
    if (!isVisibleTo(artifact.visibility, artifact.producedBy, agent.viewer)) return false;
    if (subscription.where !== undefined) {
      try {
        return subscription.where(artifact) === true;
      } catch (error) {
        this.#ctx.skipped(spec.name, artifact.correlationId, [artifact.id], `where threw: ${summarizeError(error).message}`);
        return false;
      }
    }
    return true;
  }

  /**
   * The run limit the store counts this run against: an agent's own `maxRuns(n)` counts every run;
   * the board's default counts only runs on artifacts descending from the agent's own outputs (a
   * feedback loop), so that volume through a chain is never cut.
   */
  #limitFor(agent: LiveAgent, artifact: Artifact): number | undefined {
    const own = agent.spec.maxRunsPerWorkflow;
    if (own !== undefined) return own === Infinity ? undefined : own;
    const loopLimit = this.#ctx.maxRunsPerWorkflow;
    return loopLimit !== Infinity && artifact.lineage?.includes(agent.spec.name) === true ? loopLimit : undefined;
  }

  #deposit(agent: LiveAgent, subscription: Subscription, artifact: Artifact): GateDeposit | undefined {
    const name = agent.spec.name;
    let joinKey: string | undefined;
    if (subscription.join?.by !== undefined) {
      try {
        joinKey = String(subscription.join.by(artifact));
      } catch (error) {
        this.#ctx.skipped(name, artifact.correlationId, [artifact.id], `join key threw: ${summarizeError(error).message}`);
        return undefined;
      }
    }
    const join = subscription.join;
    // A join feeding a batch deposits into the join; the groups it lets out go on into the batch.
    const batch = join === undefined ? subscription.batch : undefined;
    const thenBatch = join === undefined || subscription.batch === undefined ? undefined : subscription.batch;
    const positions: number[] = [];
    if (batch !== undefined) positions.push(0);
    else subscription.types.forEach((type, i) => type.name === artifact.type && positions.push(i));
    return {
      key: gateKey(name, subscription.index, joinKey === undefined ? { correlationId: artifact.correlationId } : { joinKey }),
      agent: name,
      subscription: subscription.index,
      kind: batch !== undefined ? 'batch' : join !== undefined ? 'join' : 'and',
      typeNames: batch !== undefined ? [subscription.types[0]!.name] : subscription.types.map((type) => type.name),
      positions,
      batchSize: batch === undefined ? undefined : Math.min(batch.size, Number.MAX_SAFE_INTEGER),
      windowMs: batch !== undefined ? batch.timeoutMs : join?.withinMs,
      maxWaiting: join?.withinLast,
      // Joined groups are batched where the join collects: across workflows for a join by key, else per workflow.
      thenBatch:
        thenBatch === undefined
          ? undefined
          : {
              key: `${gateKey(name, subscription.index, joinKey === undefined ? { correlationId: artifact.correlationId } : 'board')}/batch`,
              batchSize: Math.min(thenBatch.size, Number.MAX_SAFE_INTEGER),
              windowMs: thenBatch.timeoutMs,
            },
      joinKey,
      artifactId: artifact.id,
      correlationId: artifact.correlationId,
      runId: this.#ctx.ids.next(),
      runLimit: this.#limitFor(agent, artifact),
    };
  }
}

