/**
 * The executor: runs one claimed run. Inputs loaded, hooks (initialize, preConsume, preEvaluate,
 * postEvaluate, postPublish), the agent's policy (retries, timeout), best-of, the engine chain and the
 * body; streaming outputs are applied as they are yielded. What the run produced goes to the
 * completion unit; every outcome ends as finished, failed or cancelled, and `execute` never rejects.
 */
import { gather } from '../../core/gather.js';
import { timeout } from '../../core/timeout.js';
import { isThenable } from '../../core/task.js';
import type { Permit } from '../../flow/semaphore.js';
import { isDraft, type Artifact, type Draft } from '../artifact.js';
import { bodyInputs } from '../agent.js';
import { summarizeError } from '../builtins.js';
import type { AgentContext, BoardReader } from '../context.js';
import { describe } from '../../core/validate.js';
import { OutputError } from '../errors.js';
import type { AgentInfo } from '../hooks.js';
import { ActiveRun, addUsage, EMPTY_ARTIFACTS, RunContext, usageAttributes, type RunHost } from '../run-context.js';
import { conditionView } from '../run-until.js';
import type { ArtifactQuery, ClaimedRun } from '../store/contract.js';
import { isVisibleTo } from '../visibility.js';
import type { LiveAgent, LiveWorkflow } from './live.js';
import { CompletionWriteError } from './completion.js';
import type { Pipeline } from './pipeline.js';

const NO_DRAFTS: readonly Draft[] = Object.freeze([]);

/** The loaded inputs, in order; a missing one is an error. */
function loaded(ids: readonly string[], found: readonly (Artifact | undefined)[]): Artifact[] {
  const inputs = new Array<Artifact>(found.length);
  for (let i = 0; i < found.length; i++) {
    const artifact = found[i];
    if (artifact === undefined) throw new Error(`artifact ${ids[i]} is missing from the store`);
    inputs[i] = artifact;
  }
  return inputs;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

export class Executor {
  readonly #ctx: Pipeline;
  /** What run contexts reach the board through: one object per board, no closure per run. */
  readonly host: RunHost;

  constructor(ctx: Pipeline) {
    this.#ctx = ctx;
    this.host = {
      publishOutput: (active, draft) => ctx.completion.emit(active, draft),
      reader: (agent) => (agent.reader ??= this.#reader(agent)),
      progress: (active, detail) => {
        const { run } = active;
        if (ctx.events.listening) ctx.events.emit({ kind: 'progress', at: Date.now(), runId: run.id, agent: run.agent, correlationId: run.correlationId, detail });
      },
      usage: (active, usage) => {
        const { run } = active;
        addUsage((active.usage ??= {}), usage);
        addUsage(active.agent.usage, usage);
        ctx.workflowUsage.add(run.correlationId, usage);
        if (ctx.events.listening) ctx.events.emit({ kind: 'usage', at: Date.now(), runId: run.id, agent: run.agent, correlationId: run.correlationId, usage: { ...usage } });
      },
    };
  }

  readonly execute = async (agent: LiveAgent, run: ClaimedRun, wf: LiveWorkflow, permit: Permit): Promise<void> => {
    const ctx = this.#ctx;
    if (ctx.closed) (wf.controller ??= new AbortController()).abort(ctx.scope.signal.reason);
    if (agent.spec.when !== undefined && !(await this.#activated(agent, run))) {
      try {
        await ctx.completion.skip(agent, run, wf);
      } finally {
        permit.release();
      }
      return;
    }
    const active = new ActiveRun(agent, run, wf);
    if (ctx.events.listening) ctx.events.emit({ kind: 'started', at: active.startedAt, runId: run.id, agent: run.agent, correlationId: run.correlationId });
    try {
      // Synchronous to the end when the store, the body and the outputs are (the memory store, a
      // plain body): an await on a value that is not a promise would still cost a microtask turn.
      const traced = this.#traced(active);
      if (traced !== undefined) await traced;
    } catch (error) {
      if (active.aborted) {
        ctx.tracing.end(active.span, undefined, { 'skein.cancelled': true, ...usageAttributes(active) });
        await ctx.completion.cancel(agent, run, wf, wf.controller!.signal.reason);
      } else if (error instanceof CompletionWriteError) {
        ctx.tracing.end(active.span, error, { 'skein.attempts': active.attempts, ...usageAttributes(active) });
        await ctx.completion.handBack(active, error);
      } else {
        await ctx.tracing.with(active.span, () => ctx.completion.fail(active, error));
        ctx.tracing.end(active.span, error, { 'skein.attempts': active.attempts, ...usageAttributes(active) });
      }
    } finally {
      permit.release();
    }
  };

  /** Whether the agent's `.when` condition holds for this run (a condition that throws does not; it is reported). */
  async #activated(agent: LiveAgent, run: ClaimedRun): Promise<boolean> {
    const ctx = this.#ctx;
    const condition = agent.spec.when!;
    let reason: string;
    try {
      if ((await condition.holds(conditionView(ctx, run.correlationId))) === true) return true;
      reason = `condition not met: ${condition.description}`;
    } catch (error) {
      reason = `condition threw: ${summarizeError(error).message}`;
      ctx.internalError('activation condition', agent.spec.name, error);
    }
    ctx.skipped(agent.spec.name, run.correlationId, run.inputIds, reason);
    return false;
  }

  /**
   * Loads the inputs, opens the run's span (linked to its inputs' publish spans) and runs inside it.
   * A promise only when something on the way was asynchronous.
   */
  #traced(active: ActiveRun): Promise<void> | undefined {
    const ids = active.run.inputIds;
    const found = this.#ctx.store.getArtifacts(ids);
    if (isThenable(found)) return Promise.resolve(found).then((artifacts) => this.#tracedWith(active, loaded(ids, artifacts)));
    return this.#tracedWith(active, loaded(ids, found));
  }

  #tracedWith(active: ActiveRun, inputs: Artifact[]): Promise<void> | undefined {
    const ctx = this.#ctx;
    active.inputs = inputs;
    const name = active.agent.spec.name;
    active.span = ctx.tracing.start(`run ${name}`, { 'skein.agent': name, 'skein.run_id': active.run.id, 'skein.correlation_id': active.run.correlationId }, active.inputs);
    const published = active.span === undefined ? this.#runBody(active) : ctx.tracing.with(active.span, () => this.#runBody(active));
    if (isThenable(published)) return published.then((artifacts) => this.#ran(active, artifacts));
    return this.#ran(active, published);
  }

  /** The body and its completion unit are done: the span ends, postPublish hooks run, the run is reported finished. */
  #ran(active: ActiveRun, published: readonly Artifact[]): Promise<void> | undefined {
    this.#ctx.tracing.end(active.span, undefined, { 'skein.attempts': active.attempts, 'skein.outputs': published.length, ...(active.usage === undefined ? undefined : usageAttributes(active)) });
    if (active.agent.spec.hooks.length > 0) return this.#postPublish(active, published).then(() => this.#ctx.completion.reportFinished(active, published.length));
    this.#ctx.completion.reportFinished(active, published.length);
    return undefined;
  }

  #reader(agent: LiveAgent): BoardReader {
    const store = this.#ctx.store;
    const visible = (artifact: Artifact): boolean => isVisibleTo(artifact.visibility, artifact.producedBy, agent.viewer);
    return {
      list: async (query?: ArtifactQuery) => {
        const limit = query?.limit;
        const all = await store.list({ ...query, limit: undefined });
        const seen = all.filter(visible);
        return (limit === undefined ? seen : seen.slice(0, limit)) as never;
      },
      get: async (id: string) => {
        if (typeof id !== 'string') throw new TypeError(`id must be a string, got ${describe(id)}`);
        const [artifact] = await store.getArtifacts([id]);
        return artifact !== undefined && visible(artifact) ? artifact : undefined;
      },
    };
  }

  async #initialize(agent: LiveAgent): Promise<void> {
    if (agent.initialized) return;
    agent.init ??= (async () => {
      const info: AgentInfo = { name: agent.spec.name, signal: this.#ctx.scope.signal };
      for (const hooks of agent.spec.hooks) if (hooks.initialize !== undefined) await hooks.initialize(info);
      agent.initialized = true;
    })().catch((error: unknown) => {
      agent.init = undefined;
      throw error;
    });
    await agent.init;
  }

  /**
   * Hooks, policy, attempts, then the completion unit. Returns what the run published; without
   * hooks, policy, timeout or best-of, synchronously when the body and the store answer so.
   */
  #runBody(active: ActiveRun): readonly Artifact[] | Promise<readonly Artifact[]> {
    const spec = active.agent.spec;
    if (spec.hooks.length > 0 || spec.policy !== undefined || spec.timeoutMs !== undefined || spec.bestOf !== undefined) return this.#runBodySlowly(active);
    if (active.inputs.length === 0) return this.#ctx.completion.finish(active, NO_DRAFTS);
    const drafts = this.#attempt(active, undefined);
    return isThenable(drafts) ? drafts.then((done) => this.#ctx.completion.finish(active, done)) : this.#ctx.completion.finish(active, drafts);
  }

  async #runBodySlowly(active: ActiveRun): Promise<readonly Artifact[]> {
    return this.#ctx.completion.finish(active, await this.evaluate(active));
  }

  /**
   * A run's hooks (initialize, preConsume), policy, timeout, attempts and best-of, up to its drafts,
   * without the completion unit: what `#runBodySlowly` completes, and what `board.invoke` runs
   * outside the store (its `active.host` takes yields and `ctx.publish` calls).
   */
  async evaluate(active: ActiveRun): Promise<readonly Draft[]> {
    const spec = active.agent.spec;
    if (spec.hooks.length > 0) {
      await this.#initialize(active.agent);
      const runCtx = new RunContext(active.host ?? this.host, active, 0, active.inputs, undefined);
      for (const hooks of spec.hooks) {
        if (hooks.preConsume === undefined) continue;
        const replaced = await hooks.preConsume(active.inputs, runCtx);
        if (replaced !== undefined) active.inputs = replaced;
      }
    }
    let drafts: readonly Draft[] = [];
    if (active.inputs.length > 0) {
      if (spec.policy !== undefined) {
        // Normalised: a fallback layer may answer with a value of its own instead of the attempt's drafts.
        drafts = this.#normalize(active.agent, await spec.policy.execute((signal) => this.#attemptWithin(active, signal), { signal: active.signal }));
      } else {
        // Without a policy or a timeout the run's signal is never needed unless the body reads it.
        drafts = spec.timeoutMs === undefined ? await this.#attempt(active, undefined) : await this.#attemptWithin(active, active.signal);
      }
    }
    return drafts;
  }

  /** postPublish hooks see what the run published; they run after its completion unit, so a failure here is reported, not retried. */
  async #postPublish(active: ActiveRun, published: readonly Artifact[]): Promise<void> {
    const spec = active.agent.spec;
    if (spec.hooks.length === 0) return;
    const ctx = new RunContext(active.host ?? this.host, active, active.attempts, active.inputs, undefined);
    try {
      for (const hooks of spec.hooks) if (hooks.postPublish !== undefined) await hooks.postPublish(published.length === 0 ? EMPTY_ARTIFACTS : published, ctx);
    } catch (error) {
      this.#ctx.internalError('postPublish hook', spec.name, error);
    }
  }

  /** One attempt under the agent's policy: counts it, reports retries, applies the timeout. */
  async #attemptWithin(active: ActiveRun, signal: AbortSignal): Promise<readonly Draft[]> {
    try {
      const timeoutMs = active.agent.spec.timeoutMs;
      return timeoutMs === undefined ? await this.#attempt(active, signal) : await timeout(async (s) => this.#attempt(active, s), timeoutMs, { signal });
    } catch (error) {
      active.lastError = error;
      throw error;
    }
  }

  /** One attempt: synchronous when the agent has no hooks and its body answers without a promise. */
  #attempt(active: ActiveRun, signal: AbortSignal | undefined): readonly Draft[] | Promise<readonly Draft[]> {
    const { agent, run } = active;
    const attempt = ++active.attempts;
    if (attempt > 1) {
      this.#ctx.counters.retried(agent);
      if (this.#ctx.events.listening) {
        this.#ctx.events.emit({ kind: 'retrying', at: Date.now(), runId: run.id, agent: run.agent, correlationId: run.correlationId, attempt, error: summarizeError(active.lastError) });
      }
    }
    const spec = agent.spec;
    const inputs = active.inputs;
    const ctx = new RunContext(active.host ?? this.host, active, attempt, inputs, signal);
    if (spec.hooks.length === 0) {
      const body = bodyInputs(spec, run.subscription, inputs);
      if (spec.bestOf !== undefined) return this.#bestOf(agent, body, ctx);
      return this.#evaluate(agent, body, ctx, active);
    }
    return this.#attemptWithHooks(active, inputs, ctx);
  }

  async #attemptWithHooks(active: ActiveRun, inputs: readonly Artifact[], ctx: RunContext): Promise<readonly Draft[]> {
    const agent = active.agent;
    const spec = agent.spec;
    for (const hooks of spec.hooks) {
      if (hooks.preEvaluate === undefined) continue;
      const replaced = await hooks.preEvaluate(inputs, ctx);
      if (replaced !== undefined) inputs = replaced;
    }
    const body = bodyInputs(spec, active.run.subscription, inputs);
    const drafts = spec.bestOf !== undefined ? await this.#bestOf(agent, body, ctx) : await this.#evaluate(agent, body, ctx, active);
    return this.#postEvaluate(agent, drafts, ctx);
  }

  async #postEvaluate(agent: LiveAgent, drafts: readonly Draft[], ctx: AgentContext): Promise<readonly Draft[]> {
    let current = drafts;
    for (const hooks of agent.spec.hooks) {
      if (hooks.postEvaluate === undefined) continue;
      const replaced = await hooks.postEvaluate(current, ctx);
      if (replaced !== undefined) current = replaced;
    }
    return current;
  }

  /**
   * Runs the engine chain and the body once. Yields are applied at once when `stream` is given, or
   * collected. A body alone (no engine) that answers without a promise is evaluated synchronously.
   */
  #evaluate(agent: LiveAgent, inputs: readonly Artifact[], ctx: AgentContext, stream: ActiveRun | undefined): readonly Draft[] | Promise<readonly Draft[]> {
    const stages = agent.spec.stages;
    if (stages.length !== 1 || stages[0]!.name !== 'handle') return this.#evaluateSlowly(agent, inputs, ctx, stream);
    // The body alone: no engine span, so nothing to open or end around it.
    const value = stages[0]!.run(inputs, ctx);
    if (isAsyncIterable(value)) return this.#drain(agent, value, ctx, stream, undefined);
    if (isThenable(value)) return Promise.resolve(value).then((done) => this.#normalize(agent, done));
    return this.#normalize(agent, value);
  }

  /** Collects a streaming body's yields, or applies each at once when `stream` is given; ends `span` when done. */
  async #drain(agent: LiveAgent, value: AsyncIterable<unknown>, ctx: AgentContext, stream: ActiveRun | undefined, span: ReturnType<Pipeline['tracing']['start']>): Promise<readonly Draft[]> {
    const collected: Draft[] = [];
    for await (const item of value) {
      const drafts = this.#normalize(agent, item);
      if (stream === undefined) collected.push(...drafts);
      else {
        for (const draft of await this.#postEvaluate(agent, drafts, ctx)) await (stream.host ?? this.host).publishOutput(stream, draft);
      }
      if (ctx.signal.aborted) throw ctx.signal.reason;
    }
    this.#ctx.tracing.end(span);
    return collected;
  }

  async #evaluateSlowly(agent: LiveAgent, inputs: readonly Artifact[], ctx: AgentContext, stream: ActiveRun | undefined): Promise<readonly Draft[]> {
    const tracing = this.#ctx.tracing;
    const stages = agent.spec.stages;
    let value: unknown = inputs;
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i]!;
      const last = i === stages.length - 1;
      const isEngine = stage.name !== 'handle' || !last;
      const span = isEngine ? tracing.start(`engine ${stage.name}`, { 'skein.agent': agent.spec.name, 'skein.engine': stage.name }) : undefined;
      try {
        const input = value;
        value = tracing.with(span, () => stage.run(input, ctx));
        if (last && isAsyncIterable(value)) return await this.#drain(agent, value, ctx, stream, span);
        if (isThenable(value)) value = await value;
        tracing.end(span);
      } catch (error) {
        tracing.end(span, error);
        throw error;
      }
    }
    return this.#normalize(agent, value);
  }

  /**
   * n evaluations in one `gather` (settle mode): with a deadline, those still running when it passes
   * are aborted (and awaited), and the best-scoring finished one wins.
   */
  async #bestOf(agent: LiveAgent, inputs: readonly Artifact[], ctx: AgentContext): Promise<readonly Draft[]> {
    const { n, score, deadlineMs } = agent.spec.bestOf!;
    const evaluation = async (signal: AbortSignal): Promise<{ drafts: readonly Draft[]; rating: number }> => {
      const evalCtx = ctx instanceof RunContext ? ctx.withSignal(signal) : ctx;
      const drafts = await this.#evaluate(agent, inputs, evalCtx, undefined);
      return { drafts, rating: await score(drafts, evalCtx) };
    };
    const outcomes = await gather(Array.from({ length: n }, () => evaluation), {
      settle: true,
      signal: ctx.signal,
      ...(deadlineMs === undefined ? {} : { timeout: deadlineMs }),
    });
    let best: { drafts: readonly Draft[]; rating: number } | undefined;
    const errors: unknown[] = [];
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') errors.push(outcome.reason);
      else if (best === undefined || outcome.value.rating > best.rating) best = outcome.value;
    }
    if (best === undefined) {
      throw errors.length === 1 ? errors[0] : new AggregateError(errors, `all ${n} bestOf evaluations of agent '${agent.spec.name}' failed`);
    }
    return best.drafts;
  }

  /** Turns what a body returned or yielded into drafts of declared types. */
  #normalize(agent: LiveAgent, value: unknown): Draft[] {
    if (value === undefined || value === null) return [];
    if (isDraft(value)) return [value];
    const spec = agent.spec;
    const only = spec.publishes.size === 1 ? spec.publishes.values().next().value! : undefined;
    if (Array.isArray(value)) {
      if (value.every(isDraft)) return value;
      if (only?.fanOut !== undefined) {
        if (value.length > only.fanOut) {
          throw new OutputError(`agent '${spec.name}' returned ${value.length} ${only.type.name} outputs; its fanOut allows ${only.fanOut}`);
        }
        return (value as unknown[]).map((item) => (isDraft(item) ? item : only.type.draft(item as never)));
      }
    }
    if (only !== undefined) return [only.type.draft(value)];
    if (spec.publishes.size === 0) {
      throw new OutputError(`agent '${spec.name}' returned a value but publishes nothing; declare publishes(Type) or return undefined`);
    }
    throw new OutputError(`agent '${spec.name}' publishes several types (${[...spec.publishes.keys()].join(', ')}): return Type.draft(payload) to say which`);
  }
}
