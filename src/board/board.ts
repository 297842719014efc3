/**
 * The board: a blackboard of typed artifacts and the agents that run on them. This file is a facade:
 * the work happens in the stages under `pipeline/` (intake, router, publish unit, deadlines,
 * dispatcher, executor, completion unit, workflows, idle), which share one `Pipeline` context and
 * keep the board's truth in its store (`store/contract.ts`).
 */
import { CancelledError } from '../core/errors.js';
import { validateGrace } from '../core/grace.js';
import { linkSignal } from '../core/signal.js';
import { isThenable } from '../core/task.js';
import { assertDuration, assertFunction, assertInteger, assertKnownOptions, assertOptions, assertSignal, describe } from '../core/validate.js';
import { Deque } from '../flow/deque.js';
import { Semaphore } from '../flow/semaphore.js';
import { every } from '../runtime/every.js';
import { AgentBuilder, type AgentSpec } from './agent.js';
import { embargoEnd } from './visibility.js';
import { assertArtifactType, checkTags, checkVisibility, EMPTY, validatePayload, type AnyArtifactType, type Artifact, type ArtifactType } from './artifact.js';
import { BOARD, EXTERNAL } from './builtins.js';
import { applyBoardDefaults } from './board-defaults.js';
import type { BoardComponent } from './components.js';
import { BoardClosedError, ValidationError, type ValidationIssue } from './errors.js';
import type { BoardEvent, EventStreamOptions } from './events.js';
import { sortByPriority, type AgentInfo } from './hooks.js';
import type { Origin } from './pipeline/intake.js';
import type { LiveAgent } from './pipeline/live.js';
import { addUsage } from './run-context.js';
import { Pipeline } from './pipeline/pipeline.js';
import { TIMER_SUBSCRIPTION } from './run-context.js';
import type { ArtifactQuery, BoardStore, DeadLetter, DeadLetterQuery, WorkflowState } from './store/contract.js';
import { MemoryStore } from './stores/memory-store.js';
import { Workflow, type WaitOptions, type WorkflowControl } from './workflow.js';
import { toCondition, type Condition, type ConditionView } from './conditions.js';
import { runUntil, type RunUntilOptions } from './run-until.js';
import { checkStart, checkWorkflowRun, Starts, type StartOptions, type WorkflowRun } from './app.js';
import { checkInvoke, invoke, type InvokeInput, type InvokeOptions } from './invoke.js';

export type { AgentStats, BoardGraph, BoardOptions, BoardStats, IdleOptions, PublishCallOptions } from './board-options.js';
import type { AgentStats, BoardGraph, BoardOptions, BoardStats, IdleOptions, PublishCallOptions } from './board-options.js';

const EXTERNAL_PUBLISHER = Object.freeze({ kind: 'external' as const });
const RESERVED = new Set([EXTERNAL, BOARD]);
const STORE_METHODS = ['publish', 'claim', 'emit', 'complete', 'dueGates', 'nextDeadline', 'setWorkflowState', 'pending', 'getArtifacts', 'list', 'listRuns', 'requeueExpired'];
const SHARED_STORE_METHODS = ['renewLeases', 'listWorkflowStates', 'getWorkflowState'];
const DEFAULT_POLL_MS = 500;

/** The poll interval of a shared board, undefined for a board alone on its store. */
function sharedPollMs(shared: BoardOptions['shared']): number | undefined {
  if (shared === undefined || shared === false) return undefined;
  if (shared === true) return DEFAULT_POLL_MS;
  assertOptions(shared, 'shared');
  if (shared.pollMs !== undefined) assertDuration(shared.pollMs, 'shared.pollMs');
  return shared.pollMs ?? DEFAULT_POLL_MS;
}

/**
 * A blackboard: agents subscribe to artifact types, publishing schedules them, and work flows until
 * the board is idle. The board owns everything it starts: `shutdown()` (or `await using`) aborts
 * what is running, clears every timer and waits for it all to settle.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * import assert from 'node:assert/strict';
 * const Idea = artifactType('Idea', z.object({ topic: z.string() }));
 * const Pizza = artifactType('Pizza', z.object({ name: z.string() }));
 * const board = new Board();
 * board.agent('chef').consumes(Idea).publishes(Pizza).maxConcurrency(4)
 *   .handle(async ([idea]) => ({ name: idea.payload.topic }));
 * await board.publish(Idea, { topic: 'margherita' });
 * await board.runUntilIdle();
 * const pizzas = await board.store.list({ type: Pizza });
 * assert.equal(pizzas[0]?.payload.name, 'margherita');
 * await board.shutdown();
 * ```
 */
export class Board implements WorkflowControl, AsyncDisposable {
  readonly #ctx: Pipeline;
  readonly #names = new Set<string>();
  readonly #starts: Starts;
  #shutdown: Promise<void> | undefined;
  #resumed = false;

  constructor(options?: BoardOptions) {
    assertOptions(options);
    // Defaults a host set for the code that builds this board (withBoardDefaults); given options win.
    options = applyBoardDefaults(options);
    validateGrace(options);
    if (options?.queueCapacity !== undefined) assertInteger(options.queueCapacity, 'queueCapacity', { min: 1 });
    if (options?.maxRunsPerWorkflow !== undefined) assertInteger(options.maxRunsPerWorkflow, 'maxRunsPerWorkflow', { min: 1, allowInfinity: true });
    if (options?.leaseMs !== undefined) assertDuration(options.leaseMs, 'leaseMs');
    if (options?.maxActiveWorkflows !== undefined) assertInteger(options.maxActiveWorkflows, 'maxActiveWorkflows', { min: 1 });
    const pollMs = sharedPollMs(options?.shared);
    if (options?.work !== undefined && typeof options.work !== 'boolean') throw new TypeError(`work must be a boolean, got ${describe(options.work)}`);
    if (options?.store !== undefined) {
      const store = options.store as unknown as Record<string, unknown>;
      for (const method of pollMs === undefined ? STORE_METHODS : [...STORE_METHODS, ...SHARED_STORE_METHODS]) {
        if (typeof store?.[method] !== 'function') throw new TypeError(`store must implement BoardStore; ${method}() is missing`);
      }
    }
    if (options?.maxActiveWorkflows !== undefined && options.store !== undefined) {
      const store = options.store as unknown as Record<string, unknown>;
      for (const method of ['admitWorkflow', 'releaseWorkflowAdmission']) {
        if (typeof store[method] !== 'function') throw new TypeError(`maxActiveWorkflows needs a store with admission control; ${method}() is missing`);
      }
    }
    this.#ctx = new Pipeline({
      store: options?.store ?? new MemoryStore(),
      queueCapacity: options?.queueCapacity ?? 1024,
      maxRunsPerWorkflow: options?.maxRunsPerWorkflow ?? 1_000,
      leaseMs: options?.leaseMs ?? (pollMs === undefined ? 60_000 : 15_000),
      tracer: options?.tracer,
      graceMs: options?.graceMs,
      onStraggler: options?.onStraggler,
      pollMs,
      work: options?.work ?? true,
    });
    this.#ctx.shared?.start();
    this.#starts = new Starts(
      this.#ctx,
      (id) => this.workflow(id),
      (type, payload, start, id, artifactId) => this.#publish(type, payload, { correlationId: id, tags: start.tags, visibility: start.visibility, signal: start.signal }, artifactId),
      options?.maxActiveWorkflows,
    );
  }

  /** The board's store: list what was published with `board.store.list({ type, correlationId, ... })`. */
  get store(): BoardStore {
    return this.#ctx.store;
  }

  /**
   * Whether this board shares its store with other boards (the `shared` option): then what they do
   * reaches this board through the store only, not through its `events()`.
   *
   * @example
   * ```ts
   * import { Board } from 'skein/board';
   * await using board = new Board();
   * console.log(board.shared); // false
   * ```
   */
  get shared(): boolean {
    return this.#ctx.shared !== undefined;
  }

  /** Aborts when the board shuts down. */
  get signal(): AbortSignal {
    return this.#ctx.scope.signal;
  }

  // ---------------------------------------------------------------------------------------------
  // Declaring agents and components

  /**
   * Starts declaring an agent. Names are unique; `'external'` and `'board'` are reserved.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Text = artifactType('Text', z.string());
   * await using board = new Board();
   * board.agent('shout').consumes(Text).publishes(Text).handle(([text]) => text.payload.toUpperCase());
   * ```
   */
  agent(name: string): AgentBuilder {
    this.#assertOpen();
    if (typeof name !== 'string' || name === '') throw new TypeError(`agent name must be a non-empty string, got ${describe(name)}`);
    if (RESERVED.has(name)) throw new RangeError(`agent name '${name}' is reserved`);
    if (this.#names.has(name)) throw new RangeError(`an agent named '${name}' already exists on this board`);
    this.#names.add(name);
    return new AgentBuilder(name, (spec) => this.#register(spec));
  }

  /**
   * Adds a board-level component (see {@link BoardComponent}).
   *
   * @example
   * ```ts
   * import { Board } from 'skein/board';
   * await using board = new Board();
   * board.use({ name: 'audit', onPublish: (artifact) => void console.log(artifact.type) });
   * ```
   */
  use(component: BoardComponent): this {
    this.#assertOpen();
    assertOptions(component, 'component');
    for (const key of ['onPublish', 'beforeSchedule', 'onIdle', 'onError'] as const) {
      const hook = (component as Record<string, unknown>)[key];
      if (hook !== undefined && typeof hook !== 'function') throw new TypeError(`component ${key} must be a function, got ${describe(hook)}`);
    }
    const ctx = this.#ctx;
    ctx.components = sortByPriority([...ctx.components, component]);
    ctx.publishComponents = ctx.components.filter((c) => c.onPublish !== undefined);
    ctx.scheduleComponents = ctx.components.filter((c) => c.beforeSchedule !== undefined);
    return this;
  }

  #register(spec: AgentSpec): void {
    this.#assertOpen();
    const ctx = this.#ctx;
    if (spec.schedule !== undefined) ctx.timers.assertSupported(spec.name);
    const types = [...spec.subscriptions.flatMap((sub) => sub.types), ...[...spec.publishes.values()].map((p) => p.type)];
    for (const type of types) {
      const known = ctx.types.get(type.name);
      if (known !== undefined && known !== type) throw new TypeError(`two different artifact types are named '${type.name}'; type names must be unique on a board`);
    }
    for (const type of types) ctx.types.set(type.name, type);
    const agent: LiveAgent = {
      spec,
      viewer: { name: spec.name, labels: spec.labels, tenant: spec.tenant },
      permits: new Semaphore(spec.maxConcurrency),
      capacity: spec.queueCapacity ?? ctx.queueCapacity,
      queued: 0,
      reserved: 0,
      running: 0,
      done: 0,
      failed: 0,
      cancelled: 0,
      skipped: 0,
      retries: 0,
      usage: {},
      spaceWaiters: new Deque(),
      reader: undefined,
      pumping: false,
      wake: false,
      init: undefined,
      initialized: false,
      publisher: EXTERNAL_PUBLISHER,
      claimAgents: Object.freeze([spec.name]),
    };
    agent.publisher = Object.freeze({ kind: 'agent', agent });
    ctx.agents.set(spec.name, agent);
    for (const subscription of spec.subscriptions) {
      for (const typeName of new Set(subscription.types.map((t) => t.name))) {
        let routes = ctx.routes.get(typeName);
        if (routes === undefined) ctx.routes.set(typeName, (routes = []));
        routes.push({ agent, subscription });
      }
    }
    ctx.router.agentsChanged();
    if (spec.schedule !== undefined) ctx.timers.add(agent);
  }

  // ---------------------------------------------------------------------------------------------
  // Publishing

  /**
   * Validates, stores and schedules one artifact. Waits while an agent that consumes this type has a
   * full queue (backpressure). Rejects with a `ValidationError` (nothing stored; the payload must be
   * plain data), a `TypeError` for a type object that is not the one registered under its name or for
   * one of the board's own facts, a `PublishBlockedError`, a `CancelledError` for a cancelled
   * workflow, the signal's reason when it aborts first (nothing stored), a `BoardClosedError`, or the
   * store's error when it refuses the write (nothing stored).
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Order = artifactType('Order', z.object({ qty: z.number() }));
   * await using board = new Board();
   * const order = await board.publish(Order, { qty: 2 }, { tags: ['rush'] });
   * order.producedBy; // 'external'
   * ```
   */
  async publish<T, I>(type: ArtifactType<T, I>, payload: I, options?: PublishCallOptions): Promise<Artifact<T>> {
    return this.#publish(type, payload, options, undefined);
  }

  async #publish<T, I>(type: ArtifactType<T, I>, payload: I, options: PublishCallOptions | undefined, artifactId: string | undefined): Promise<Artifact<T>> {
    const origin = this.#externalOrigin(type, options, artifactId);
    const ctx = this.#ctx;
    const signal = options?.signal;
    if (signal?.aborted) throw signal.reason;
    ctx.intake.assertNotCancelled(ctx.workflows.get(origin.correlationId), origin.correlationId);
    // Counted from the call on, so that runUntilIdle() right after an unawaited publish waits for it.
    ctx.counters.publishStarted(undefined);
    const reserved: LiveAgent[] = [];
    try {
      const routes = ctx.router.routesOf(type.name);
      if (routes !== undefined) {
        const waiting = ctx.intake.reserve(routes, signal, reserved);
        if (waiting !== undefined) await waiting;
      }
      if (signal?.aborted) throw signal.reason;
      return (await ctx.units.publishOne(type as AnyArtifactType, payload, origin)) as Artifact<T>;
    } finally {
      for (const agent of reserved) ctx.intake.unreserve(agent);
      ctx.counters.publishEnded(undefined);
    }
  }

  /**
   * Publishes several payloads of one type, in order. Every payload is validated first: if one is
   * invalid, nothing is published and the `ValidationError` names the failing paths (`3.qty`).
   * Each payload starts its own workflow unless `correlationId` is given.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Order = artifactType('Order', z.object({ qty: z.number() }));
   * await using board = new Board();
   * const orders = await board.publishMany(Order, [{ qty: 1 }, { qty: 2 }]);
   * ```
   */
  async publishMany<T, I>(type: ArtifactType<T, I>, payloads: readonly I[], options?: PublishCallOptions): Promise<Artifact<T>[]> {
    this.#externalOrigin(type, options);
    if (!Array.isArray(payloads)) throw new TypeError(`publishMany payloads must be an array, got ${describe(payloads)}`);
    const issues: ValidationIssue[] = [];
    const values: unknown[] = [];
    for (let i = 0; i < payloads.length; i++) {
      try {
        values.push(await validatePayload(type as ArtifactType<T, unknown>, payloads[i]));
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        for (const issue of error.issues) issues.push({ path: issue.path === '(root)' ? String(i) : `${i}.${issue.path}`, message: issue.message });
      }
    }
    if (issues.length > 0) throw new ValidationError(type.name, issues);
    const published: Artifact<T>[] = [];
    for (const value of values) published.push(await this.publish(type, value as I, options));
    return published;
  }

  #externalOrigin(type: unknown, options: PublishCallOptions | undefined, artifactId?: string): Origin {
    this.#assertOpen();
    assertArtifactType(type, 'publish type');
    this.#ctx.intake.checkExternalType(type);
    assertOptions(options);
    assertSignal(options?.signal);
    if (options?.correlationId !== undefined && (typeof options.correlationId !== 'string' || options.correlationId === '')) {
      throw new TypeError(`correlationId must be a non-empty string, got ${describe(options.correlationId)}`);
    }
    return {
      producedBy: EXTERNAL,
      correlationId: options?.correlationId ?? this.#ctx.ids.next(),
      tags: checkTags(options?.tags),
      visibility: checkVisibility(options?.visibility),
      causedBy: EMPTY,
      publisher: EXTERNAL_PUBLISHER,
      id: artifactId,
      visibleAt: embargoEnd(options, Date.now()),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Idle and workflows

  /**
   * Resolves when no run is queued (runs of paused workflows aside) or running, no batch or join waits
   * on its deadline, and no publish is in progress. Event-driven: no polling.
   *
   * @example
   * ```ts
   * import { Board } from 'skein/board';
   * await using board = new Board();
   * await board.runUntilIdle({ timeoutMs: 1_000 }); // idle at once: nothing to do
   * ```
   */
  runUntilIdle(options?: IdleOptions): Promise<void> {
    assertOptions(options);
    assertSignal(options?.signal);
    if (options?.timeoutMs !== undefined) assertDuration(options.timeoutMs, 'timeoutMs');
    if (this.#ctx.closed) return Promise.reject(new BoardClosedError());
    if (this.#ctx.idle.settled) return Promise.resolve();
    return this.#ctx.idle.waitIdle(options);
  }

  /**
   * Resolves once `condition` holds (an artifact appears, N of a type, a workflow is done, no work is
   * left, `any`/`all` of these, or a predicate over the store). Event-driven: the condition is asked at
   * first and again after each board event that may change its answer, never on a timer; sharing the
   * store, also after each poll of the store and each store notice (how it hears of other boards'
   * work). Rejects with a `TimeoutError` naming the condition after `timeoutMs`, the signal's reason
   * when it aborts, a `BoardClosedError` at shutdown, or what the condition threw. It does not start
   * or stop any work: the board runs as always while it waits.
   *
   * @example
   * ```ts
   * import { Board, artifactType, artifactCount } from 'skein/board';
   * import { z } from 'zod';
   * const Idea = artifactType('Idea', z.string());
   * const Pizza = artifactType('Pizza', z.string());
   * await using board = new Board();
   * board.agent('chef').consumes(Idea).publishes(Pizza).handle(([idea]) => idea.payload);
   * await board.publishMany(Idea, ['margherita', 'marinara', 'diavola']);
   * await board.runUntil(artifactCount(Pizza, 2), { timeoutMs: 5_000 }); // the third may still be baking
   * ```
   */
  runUntil(condition: Condition | ((view: ConditionView) => boolean | Promise<boolean>), options?: RunUntilOptions): Promise<void> {
    const checked = toCondition(condition);
    assertOptions(options);
    assertKnownOptions(options, ['timeoutMs', 'signal'], 'runUntil');
    assertSignal(options?.signal);
    if (options?.timeoutMs !== undefined) assertDuration(options.timeoutMs, 'timeoutMs');
    return runUntil(this.#ctx, checked, options);
  }

  /**
   * Runs agent `agent` once on `input` and answers its outputs, with no subscription matching and no
   * other agent reacting. `input` is an artifact, a draft (`Type.draft(payload)`), a payload of the
   * agent's only input type, or an array of artifacts and drafts (an AND gate's inputs, in order).
   * By default nothing is stored: the input is validated, the agent runs (hooks, engines, policy,
   * retries, timeout, best-of; not its `.when` condition nor `where` filters: the caller chose it) and
   * its outputs come back validated, unstored. With `react: true` the input is stored (scheduling no
   * one) and the outputs are published in its workflow, so other agents react to them; the answer is
   * the stored outputs. The invocation holds one of the agent's permits. Rejects with the run's last
   * error (no `AgentFailed`, no dead letter), a `TimeoutError` after `timeoutMs`, the signal's reason,
   * a `CancelledError` at shutdown, a `ValidationError` for an invalid input or output, or a
   * `TypeError` for an input the agent does not consume.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * import assert from 'node:assert/strict';
   * const Idea = artifactType('Idea', z.object({ topic: z.string() }));
   * const Pizza = artifactType('Pizza', z.object({ name: z.string() }));
   * await using board = new Board();
   * board.agent('chef').consumes(Idea).publishes(Pizza).handle(([idea]) => ({ name: idea.payload.topic }));
   * board.agent('critic').consumes(Pizza).handle(() => assert.fail('nobody reacts to an invocation'));
   * const [pizza] = await board.invoke('chef', { topic: 'funghi' }, { timeoutMs: 5_000 });
   * assert.deepEqual(pizza?.payload, { name: 'funghi' });
   * assert.deepEqual(await board.store.list(), []); // nothing stored
   * ```
   */
  invoke(agent: string, input: InvokeInput, options?: InvokeOptions): Promise<Artifact[]> {
    this.#assertOpen();
    checkInvoke(options);
    const live = this.#ctx.agents.get(agent);
    if (live === undefined) throw new RangeError(`no agent named ${describe(agent)} on this board`);
    return invoke(this.#ctx, live, input, options);
  }

  /**
   * Starts a workflow: publishes `payload` as its input (of type `Input`) and answers its handle,
   * whose `result()` resolves with the outputs named in `requires` as soon as they exist, or rejects
   * with a `WorkflowFailedError` carrying the failure facts once the workflow is done without them.
   *
   * Idempotent by `id`, through the store: the input's artifact id is derived from the workflow id, so
   * a second start of the same id (concurrent or later, on this board, on another board sharing the
   * store, or after a restart of a durable store) publishes nothing and answers the existing workflow
   * (`created: false`); starting it with another input type is a `TypeError`. With the board's
   * `maxActiveWorkflows` (counted in the store, across every board of it), a start first waits for
   * room (first come first served on this board, storing nothing),
   * rejecting with a `TimeoutError` after `timeoutMs`, the signal's reason when it aborts, or a
   * `BoardClosedError` at shutdown. Rejects like `publish` otherwise (`ValidationError`, ...).
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * import assert from 'node:assert/strict';
   * const Order = artifactType('Order', z.object({ sku: z.string(), qty: z.number() }));
   * const Invoice = artifactType('Invoice', z.object({ total: z.number() }));
   * await using board = new Board({ maxActiveWorkflows: 64 });
   * board.agent('billing').consumes(Order).publishes(Invoice).handle(([order]) => ({ total: order.payload.qty * 10 }));
   * const run = await board.start(Order, { sku: 'a-1', qty: 3 }, { id: 'order-42', requires: [Invoice] });
   * const [invoice] = await run.result();
   * assert.equal(invoice.payload.total, 30);
   * ```
   */
  async start<T, I, const R extends readonly AnyArtifactType[] = []>(type: ArtifactType<T, I>, payload: I, options?: StartOptions<R>): Promise<WorkflowRun<R>> {
    this.#assertOpen();
    checkStart(type, options);
    assertSignal(options?.signal);
    if (options?.timeoutMs !== undefined) assertDuration(options.timeoutMs, 'timeoutMs');
    this.#ctx.intake.checkExternalType(type as AnyArtifactType);
    return this.#starts.start(type as AnyArtifactType, payload, options);
  }

  /**
   * The handle of the workflow started with id `id` (by `start()` on this board, another board
   * sharing its store, or before a restart), found by its stored input; `undefined` when no workflow
   * of that id was started. For a service answering "what became of request X" without knowing the
   * request's input type: `status()` asks the store, `result()` waits for the outputs in `requires`.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Order = artifactType('Order', z.object({ sku: z.string() }));
   * const Invoice = artifactType('Invoice', z.object({ total: z.number() }));
   * await using board = new Board();
   * board.agent('billing').consumes(Order).publishes(Invoice).handle(() => ({ total: 10 }));
   * await board.start(Order, { sku: 'a-1' }, { id: 'order-42' });
   * const run = await board.workflowRun('order-42', { requires: [Invoice] });
   * const [invoice] = (await run?.result()) ?? [];
   * assert.equal(invoice?.payload.total, 10);
   * assert.equal(await board.workflowRun('order-43'), undefined);
   * ```
   */
  async workflowRun<const R extends readonly AnyArtifactType[] = []>(id: string, options?: { readonly requires?: R }): Promise<WorkflowRun<R> | undefined> {
    this.#assertOpen();
    checkWorkflowRun(id, options);
    return this.#starts.find(id, (options?.requires ?? []) as unknown as R);
  }

  /**
   * The handle of the workflow with this correlation id (it need not have started yet).
   *
   * @example
   * ```ts
   * import { Board } from 'skein/board';
   * await using board = new Board();
   * await board.workflow('order-42').done({ timeoutMs: 1_000 });
   * ```
   */
  workflow(correlationId: string): Workflow {
    if (typeof correlationId !== 'string' || correlationId === '') {
      throw new TypeError(`correlationId must be a non-empty string, got ${describe(correlationId)}`);
    }
    return new Workflow(correlationId, this);
  }

  /** @internal */
  workflowState(id: string): WorkflowState {
    return this.#ctx.workflows.state(id);
  }

  /** @internal */
  waitForWorkflow(id: string, options: WaitOptions | undefined): Promise<void> {
    assertOptions(options);
    assertSignal(options?.signal);
    if (options?.timeoutMs !== undefined) assertDuration(options.timeoutMs, 'timeoutMs');
    return this.#ctx.workflows.waitDone(id, options);
  }

  /** @internal */
  cancelWorkflow(id: string, reason: unknown): Promise<void> {
    this.#assertOpen();
    return this.#ctx.workflows.cancel(id, reason);
  }

  /** @internal */
  pauseWorkflow(id: string): Promise<void> {
    this.#assertOpen();
    return this.#ctx.workflows.pause(id);
  }

  /** @internal */
  resumeWorkflow(id: string): Promise<void> {
    this.#assertOpen();
    return this.#ctx.workflows.resume(id);
  }

  /** @internal */
  workflowUsage(id: string): Readonly<Record<string, number>> {
    return this.#ctx.workflowUsage.get(id);
  }

  /** @internal */
  async listArtifacts(query: ArtifactQuery): Promise<Artifact[]> {
    return this.#ctx.store.list(query);
  }

  /**
   * Picks up the work a previous board left in this board's (durable) store, after a crash or a
   * restart: runs left running are queued again (at least once: their outcome was never recorded;
   * on a `shared` board only runs whose lease expired or whose owner is known dead, never a live
   * board's; alone on its store, every running run, since no other board can be running it),
   * queued runs are counted and started, paused and cancelled workflows keep their state, and the
   * earliest batch or join deadline is armed (one that passed meanwhile fires at once). Call it once,
   * after declaring the agents and before publishing. Runs of agents this board does not declare stay
   * in the store. Resolves with what it found.
   *
   * @example
   * ```ts
   * import { Board, MemoryStore, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Job = artifactType('Job', z.number());
   * const store = new MemoryStore(); // a durable store in real life
   * await using board = new Board({ store });
   * board.agent('worker').consumes(Job).handle(() => {});
   * const { requeued, queued, gates } = await board.resume();
   * await board.runUntilIdle();
   * ```
   */
  async resume(): Promise<{ readonly requeued: number; readonly queued: number; readonly gates: number }> {
    this.#assertOpen();
    const ctx = this.#ctx;
    const counters = ctx.counters;
    if (this.#resumed || counters.published > 0 || counters.queued > 0 || counters.running > 0 || ctx.deadlines.armed) {
      throw new Error('resume() runs once, on a board that has done nothing yet: call it after declaring the agents, before publishing');
    }
    this.#resumed = true;
    // Ticks wait until the runs the store holds are counted, or the run a tick queues meanwhile would be counted twice.
    const release = ctx.timers.hold();
    try {
      const store = ctx.store;
      if (ctx.shared !== undefined) {
        // Other boards may be alive: only runs whose lease expired (or whose owner the store knows dead) go back.
        const requeued = await store.requeueExpired(Date.now());
        for (const { correlationId, state } of await store.listWorkflowStates()) ctx.workflows.ensure(correlationId).state = state;
        const pending = await store.pending();
        const gates = (await store.listGates()).filter((gate) => gate.deadline !== undefined && ctx.agents.has(gate.agent)).length;
        await ctx.deadlines.rearm();
        ctx.dispatcher.wakeAll();
        return { requeued: requeued.length, queued: pending.queued + pending.paused, gates };
      }
      const requeued = await store.requeueExpired(Number.MAX_SAFE_INTEGER);
      for (const { correlationId, state } of await store.listWorkflowStates()) ctx.workflows.ensure(correlationId).state = state;
      let queued = 0;
      for (const run of await store.listRuns({ state: 'queued' })) {
        const agent = ctx.agents.get(run.agent);
        if (agent === undefined) continue;
        counters.runQueued(agent, ctx.workflows.ensure(run.correlationId));
        queued++;
      }
      const gates = (await store.listGates()).filter((gate) => gate.deadline !== undefined && ctx.agents.has(gate.agent)).length;
      await ctx.deadlines.rearm();
      ctx.dispatcher.wakeAll();
      for (const wf of [...ctx.workflows.all()]) ctx.workflows.settled(wf);
      return { requeued: requeued.length, queued, gates };
    } finally {
      release();
    }
  }

  /**
   * Starts a background loop owned by the board: `task` runs every `intervalMs` (runtime's `every`:
   * never overlapping, a failure reported as an `error` event and the loop going on) until `stop()`
   * or shutdown, which aborts a run in progress through its signal and waits for it. A loop is not
   * work for `runUntilIdle` (it never ends); what it publishes is.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Tick = artifactType('Tick', z.number());
   * await using board = new Board();
   * const heartbeat = board.every(60_000, () => board.publish(Tick, Date.now()));
   * heartbeat.stop(); // or let shutdown stop it
   * ```
   */
  every(intervalMs: number, task: (signal: AbortSignal) => unknown, options?: { readonly immediate?: boolean }): { stop(): void } & Disposable {
    this.#assertOpen();
    assertDuration(intervalMs, 'intervalMs');
    assertFunction(task, 'task');
    assertOptions(options);
    const ctx = this.#ctx;
    const controller = new AbortController();
    const link = linkSignal(controller, ctx.scope.signal);
    ctx.scope.spawn(() =>
      every(intervalMs, task, {
        signal: controller.signal,
        immediate: options?.immediate ?? false,
        onError: (error, { run }) => ctx.internalError(`background loop, run ${run}`, undefined, error),
      }).finally(() => link.unlink()),
    );
    const stop = (): void => controller.abort(new CancelledError('the loop was stopped'));
    return { stop, [Symbol.dispose]: stop };
  }

  /**
   * Runs that failed for good, oldest first.
   *
   * @example
   * ```ts
   * import { Board } from 'skein/board';
   * await using board = new Board();
   * for (const letter of await board.deadLetters({ agent: 'fetcher' })) console.log(letter.error.message);
   * ```
   */
  async deadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]> {
    assertOptions(query, 'query');
    return [...(await this.#ctx.store.listDeadLetters(query))];
  }

  /**
   * Runs a dead letter again with the same inputs (the letter is removed in the same unit). Resolves
   * once the run is queued; its outcome arrives like any run's.
   *
   * @example
   * ```ts
   * import { Board } from 'skein/board';
   * await using board = new Board();
   * for (const letter of await board.deadLetters()) await board.replayDeadLetter(letter.id);
   * ```
   */
  async replayDeadLetter(id: string): Promise<void> {
    this.#assertOpen();
    if (typeof id !== 'string') throw new TypeError(`dead letter id must be a string, got ${describe(id)}`);
    const ctx = this.#ctx;
    const letter = (await ctx.store.listDeadLetters()).find((l) => l.id === id);
    if (letter === undefined) throw new RangeError(`no dead letter with id ${id}`);
    const agent = ctx.agents.get(letter.run.agent);
    const tick = letter.run.subscription === TIMER_SUBSCRIPTION && agent?.spec.schedule !== undefined;
    if (agent === undefined || (agent.spec.subscriptions[letter.run.subscription] === undefined && !tick)) {
      throw new RangeError(`dead letter ${id} belongs to agent '${letter.run.agent}', which is not on this board`);
    }
    const wf = ctx.workflows.ensure(letter.run.correlationId);
    ctx.intake.assertNotCancelled(wf, wf.id);
    ctx.counters.publishStarted(wf);
    try {
      while (ctx.intake.full(agent)) await ctx.intake.waitForRoom(agent);
      const run = { id: ctx.ids.next(), agent: agent.spec.name, subscription: letter.run.subscription, inputIds: letter.run.inputIds, correlationId: wf.id, replayOf: letter.id };
      const replayed = ctx.store.replayDeadLetter(id, run, Date.now());
      const record = isThenable(replayed) ? await replayed : replayed;
      if (record === undefined) throw new RangeError(`no dead letter with id ${id}`);
      ctx.units.applied({ status: 'applied', runs: [record], limited: [], duplicates: 0 }, []);
    } finally {
      ctx.counters.publishEnded(wf);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Observation and lifetime

  /**
   * The event stream: published, scheduled, started, retrying, finished, failed, cancelled, skipped,
   * blocked, error and idle events, as an async iterable. Each subscriber buffers at most `bufferSize`
   * events; past it the oldest are dropped and a `lagged` event says how many.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Ping = artifactType('Ping', z.object({}));
   * await using board = new Board();
   * board.agent('pong').consumes(Ping).handle(() => {});
   * const events = board.events();
   * await board.publish(Ping, {});
   * await board.runUntilIdle();
   * for await (const event of events) if (event.kind === 'idle') break;
   * ```
   */
  events(options?: EventStreamOptions): AsyncIterableIterator<BoardEvent> {
    return this.#ctx.events.subscribe(options);
  }

  /**
   * Changes an agent's concurrency limit while the board runs (a `--concurrency` flag, a load
   * shedder). Runs already started keep their permits; more permits start queued runs at once.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Job = artifactType('Job', z.number());
   * await using board = new Board();
   * board.agent('worker').consumes(Job).maxConcurrency(2).handle(() => {});
   * board.setMaxConcurrency('worker', 8);
   * board.stats().agents.worker?.maxConcurrency; // 8
   * ```
   */
  setMaxConcurrency(agent: string, n: number): void {
    this.#assertOpen();
    const live = this.#ctx.agents.get(agent);
    if (live === undefined) throw new RangeError(`no agent named ${describe(agent)} on this board`);
    assertInteger(n, 'maxConcurrency', { min: 1 });
    live.permits.permits = n;
  }

  /**
   * Per-agent counters (queued, running, done, failed, cancelled, retries) and the number of artifacts published.
   *
   * @example
   * ```ts
   * import { Board } from 'skein/board';
   * await using board = new Board();
   * const { published, idle, agents } = board.stats();
   * ```
   */
  stats(): BoardStats {
    const agents: Record<string, AgentStats> = {};
    const usage: Record<string, number> = {};
    for (const [name, a] of this.#ctx.agents) {
      agents[name] = { queued: a.queued, running: a.running, done: a.done, failed: a.failed, cancelled: a.cancelled, skipped: a.skipped, retries: a.retries, maxConcurrency: a.permits.permits, usage: { ...a.usage } };
      addUsage(usage, a.usage);
    }
    const admission = this.#starts.admission;
    const stats = { published: this.#ctx.counters.published, idle: this.#ctx.counters.isIdle(), agents, usage };
    return admission === undefined ? stats : { ...stats, admission: { max: admission.max, active: admission.active, waiting: admission.waiting } };
  }

  /**
   * A read-only snapshot of the agents and the types they consume and publish (a dashboard's graph).
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Job = artifactType('Job', z.number());
   * await using board = new Board();
   * board.agent('worker').consumes(Job).handle(() => {});
   * board.graph().agents[0]?.consumes; // [['Job']]
   * ```
   */
  graph(): BoardGraph {
    const agents = [...this.#ctx.agents.values()].map(({ spec }) => ({ name: spec.name, consumes: spec.subscriptions.map((sub) => sub.types.map((t) => t.name)), publishes: [...spec.publishes.keys()], labels: [...spec.labels], tenant: spec.tenant }));
    return { types: [...this.#ctx.types.values()], agents };
  }

  #assertOpen(): void {
    if (this.#ctx.closed) throw new BoardClosedError();
  }

  /**
   * Shuts the board down: no more publishes, running runs aborted (they end as cancelled here and are
   * handed back to the store's queue), runs still queued counted as cancelled (they stay in a durable
   * store for the next board's `resume()`), timers cleared, and it resolves once everything it started
   * has settled (runs that ignore their signal get the grace period, then are reported as
   * stragglers). Then agents' `terminate` hooks run, event streams end and the store is closed. Idempotent.
   *
   * @example
   * ```ts
   * import { Board } from 'skein/board';
   * const board = new Board();
   * await board.shutdown();
   * ```
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#close();
    return this.#shutdown;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  async #close(): Promise<void> {
    const ctx = this.#ctx;
    ctx.closed = true;
    const stopping = ctx.shared?.stop();
    const reason = new CancelledError('the board is shutting down');
    ctx.scope.cancel(reason);
    for (const wf of ctx.workflows.all()) if (wf.running > 0 || wf.controller !== undefined) (wf.controller ??= new AbortController()).abort(reason);
    ctx.intake.failWaiters();
    ctx.deadlines.disarm();
    ctx.timers.disarm();
    ctx.dispatcher.dropDeferred();
    ctx.idle.failAll();
    this.#starts.close();
    ctx.workflows.failAll(new BoardClosedError());
    try {
      // Sharing the store the board counts no queued runs: they stay for the other boards.
      if (ctx.shared !== undefined) await stopping;
      else {
        for (const run of await ctx.store.listRuns({ state: 'queued' })) {
          const agent = ctx.agents.get(run.agent);
          if (agent === undefined || agent.queued === 0) continue;
          ctx.counters.runLeftQueue(agent, ctx.workflows.ensure(run.correlationId));
          ctx.counters.queuedRunCancelled(agent);
          ctx.dispatcher.forget(run.id);
          ctx.completion.reportCancelled(run, reason);
        }
      }
    } catch {
      // The store failed; runs still settle below.
    }
    try {
      // Waits for every run, pump and timer handler; those that ignore their signal get the grace period.
      await ctx.scope.join();
    } catch {
      // The board's tasks handle their own errors; a cancelled scope has nothing more to report.
    }
    for (const agent of ctx.agents.values()) {
      if (!agent.initialized) continue;
      const info: AgentInfo = { name: agent.spec.name, signal: ctx.scope.signal };
      for (const hooks of agent.spec.hooks) {
        if (hooks.terminate === undefined) continue;
        try {
          await hooks.terminate(info);
        } catch {
          // One agent's failing teardown must not stop the others'.
        }
      }
    }
    ctx.events.close();
    await ctx.store.close?.();
  }
}
