/**
 * The board: a blackboard of typed artifacts and the scheduler that runs agents on them.
 *
 * One direction of travel: `publish` -> validate -> components -> store -> match subscriptions
 * (indexed by type) -> visibility -> gate (AND / batch / join) -> per-agent bounded queue -> per-agent
 * semaphore -> run (hooks, engines, policy) -> outputs -> `publish`.
 *
 * Invariants kept here:
 * - Idle is counted, never polled: `publishing + running + runnable queued + open timers`. Each
 *   counter changes in one place; when the sum reaches zero the idle transition runs once.
 * - A run's permit is taken before its context is built, and released only when the run settled.
 * - A publisher waits for queue space only where waiting cannot deadlock: external publishes wait
 *   before anything is stored; a run's outputs wait only on agents that cannot lead back to it
 *   (edges on a cycle of the agent graph never wait; the per-workflow run limit bounds those).
 * - Everything the board starts is tracked and settles before `shutdown()` resolves.
 */
import { AsyncResource } from 'node:async_hooks';
import type { Tracer } from './otel.js';
import { CancelledError, TimeoutError } from '../core/errors.js';
import { gather } from '../core/gather.js';
import { validateGrace, type GraceOptions } from '../core/grace.js';
import { TaskGroup } from '../core/scope.js';
import { linkSignal, onAbort } from '../core/signal.js';
import { timeout } from '../core/timeout.js';
import { isThenable } from '../core/task.js';
import { assertDuration, assertFunction, assertInteger, assertOptions, assertSignal, describe } from '../core/validate.js';
import { every } from '../runtime/every.js';
import { AgentBuilder, type AgentSpec, type Subscription } from './agent.js';
import {
  assertArtifactType,
  checkTags,
  checkVisibility,
  EMPTY,
  isDraft,
  validatePayload,
  type AnyArtifactType,
  type Artifact,
  type ArtifactType,
  type Draft,
  type DraftOptions,
} from './artifact.js';
import { AgentFailed, BOARD, EXTERNAL, JoinExpired, LoopDetected, summarizeError } from './builtins.js';
import type { BoardComponent, ScheduleCandidate } from './components.js';
import type { AgentContext, BoardReader } from './context.js';
import { Deque } from '../flow/deque.js';
import { addToGate, gateKey, isEmpty, joinKeyOf, openGate } from './gates.js';
import { BoardClosedError, OutputError, PublishBlockedError, ValidationError, type ValidationIssue } from './errors.js';
import { EventHub, type BoardEvent, type EventStreamOptions } from './events.js';
import { sortByPriority, type AgentInfo } from './hooks.js';
import { Semaphore, type Permit } from '../flow/semaphore.js';
import { EMPTY_ARTIFACTS, RunContext, RunState, type RunHost } from './run-context.js';
import type { AgentRuntime, Waiter, WorkflowRuntime } from './runtime.js';
import type { ArtifactQuery, BoardStore, DeadLetter, DeadLetterQuery, GateRecord, RunRecord, WorkflowState } from './store.js';
import { MemoryStore } from './stores/memory-store.js';
import { Tracing } from './tracing.js';
import { isVisibleTo, type Visibility } from './visibility.js';
import { Workflow, type WaitOptions, type WorkflowControl } from './workflow.js';

/**
 * Options of `new Board()`.
 *
 * @example
 * ```ts
 * import { Board, MemoryStore } from 'skein/board';
 * const board = new Board({ store: new MemoryStore(), queueCapacity: 256, maxRunsPerWorkflow: 50, graceMs: 5_000 });
 * ```
 */
export interface BoardOptions extends GraceOptions {
  /** Where the board keeps its state (default: a new {@link MemoryStore}). */
  readonly store?: BoardStore;
  /** Runs that may wait in one agent's queue before publishers wait (default 1024; per agent with `queueCapacity(n)`). */
  readonly queueCapacity?: number;
  /** Runs one agent may have in one workflow before `LoopDetected` stops it (default 1000; per agent with `maxRuns(n)`). */
  readonly maxRunsPerWorkflow?: number;
  /** The tracer for spans (default: `trace.getTracer('skein/board')` when `@opentelemetry/api` is installed). */
  readonly tracer?: Tracer;
}

/**
 * Options of `board.publish()`.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * import { visibility } from 'skein/board';
 * const Note = artifactType('Note', z.string());
 * await using board = new Board();
 * await board.publish(Note, 'hi', { correlationId: 'order-42', tags: ['draft'], visibility: visibility.private(['editor']) });
 * ```
 */
export interface PublishCallOptions extends DraftOptions {
  /** The workflow it belongs to (default: a new one). */
  readonly correlationId?: string;
  /** Stops waiting for queue space; once stored, the artifact is scheduled regardless. */
  readonly signal?: AbortSignal;
}

/**
 * Options of `board.runUntilIdle()`.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * await board.runUntilIdle({ timeoutMs: 30_000, signal: AbortSignal.timeout(60_000) });
 * ```
 */
export interface IdleOptions {
  /** Reject with a `TimeoutError` if the board is not idle in time. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Counters of one agent, as `board.stats()` gives them.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * for (const [agent, s] of Object.entries(board.stats().agents)) console.log(agent, s.queued, s.running, s.done, s.failed, s.retries);
 * ```
 */
export interface AgentStats {
  readonly queued: number;
  readonly running: number;
  readonly done: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly retries: number;
  /** The agent's current concurrency limit. */
  readonly maxConcurrency: number;
}

/**
 * A snapshot of the board's counters.
 *
 * @example
 * ```ts
 * import { Board } from 'skein/board';
 * await using board = new Board();
 * const { published, idle } = board.stats();
 * ```
 */
export interface BoardStats {
  readonly published: number;
  readonly idle: boolean;
  readonly agents: Readonly<Record<string, AgentStats>>;
}

/** Who is publishing, which decides whether the publish may wait for queue space. */
type Publisher = { readonly kind: 'external' } | { readonly kind: 'agent'; readonly agent: AgentRuntime } | { readonly kind: 'board' };

interface PublishMeta {
  readonly producedBy: string;
  readonly correlationId: string;
  readonly tags: readonly string[];
  readonly visibility: Visibility;
  readonly causedBy: readonly string[];
  readonly publisher: Publisher;
}

interface TimerEntry {
  readonly timer: ReturnType<typeof setTimeout>;
  readonly correlationId: string;
}

interface IndexEntry {
  readonly agent: AgentRuntime;
  readonly subscription: Subscription;
}

const EXTERNAL_PUBLISHER: Publisher = { kind: 'external' };
const BOARD_PUBLISHER: Publisher = { kind: 'board' };
const PUBLIC: Visibility = Object.freeze({ kind: 'public' });
const RESERVED = new Set([EXTERNAL, BOARD]);
const noop = (): void => {};

/**
 * Ids: a random 64-bit prefix per board and a counter. Unique across boards and processes
 * sharing a store, and far cheaper than one UUID per artifact and per run.
 */
class IdSource {
  readonly #prefix = globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 16);
  #next = 0;

  next(): string {
    return `${this.#prefix}-${(this.#next++).toString(36)}`;
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/**
 * A blackboard: agents subscribe to artifact types, publishing schedules them, and work flows until
 * the board is idle. The board owns everything it starts: `shutdown()` (or `await using`) aborts
 * what is running, drops what is queued, clears every timer and waits for it all to settle.
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
  readonly #store: BoardStore;
  readonly #queueCapacity: number;
  readonly #maxRunsPerWorkflow: number;
  readonly #tracing: Tracing;
  /** The root scope: every run, pump and timer handler the board starts is a child of it. */
  readonly #scope: TaskGroup;
  readonly #events = new EventHub();
  readonly #ids = new IdSource();

  readonly #agents = new Map<string, AgentRuntime>();
  readonly #reserved = new Set<string>();
  readonly #index = new Map<string, IndexEntry[]>();
  #reach: Map<string, Set<string>> | undefined;
  readonly #types = new Map<string, AnyArtifactType>();
  #components: BoardComponent[] = [];
  #publishComponents: BoardComponent[] = [];
  #scheduleComponents: BoardComponent[] = [];

  readonly #workflows = new Map<string, WorkflowRuntime>();
  /** The async context each queued run was scheduled in, to run it there. */
  readonly #contexts = new Map<string, AsyncResource>();
  readonly #timers = new Map<string, TimerEntry>();
  readonly #deferred = new Set<{ timer: ReturnType<typeof setTimeout>; correlationId: string; fire: () => void }>();
  #gateChain: Promise<void> = Promise.resolve();

  #publishing = 0;
  #queued = 0;
  #pausedQueued = 0;
  #running = 0;
  #timerCount = 0;
  #published = 0;
  #busy = false;
  #idleScheduled = false;
  readonly #idleWaiters = new Set<Waiter>();
  #closed = false;
  #shutdown: Promise<void> | undefined;
  #resumed = false;
  #lastMs = Number.NaN;
  #lastIso = '';

  constructor(options?: BoardOptions) {
    assertOptions(options);
    validateGrace(options);
    if (options?.queueCapacity !== undefined) assertInteger(options.queueCapacity, 'queueCapacity', { min: 1 });
    if (options?.maxRunsPerWorkflow !== undefined) assertInteger(options.maxRunsPerWorkflow, 'maxRunsPerWorkflow', { min: 1, allowInfinity: true });
    if (options?.store !== undefined) {
      const store = options.store as unknown as Record<string, unknown>;
      for (const method of ['putArtifact', 'getArtifacts', 'list', 'enqueueRun', 'claimRun', 'finishRun', 'getGate', 'putGate', 'addDeadLetter']) {
        if (typeof store?.[method] !== 'function') throw new TypeError(`store must implement BoardStore; ${method}() is missing`);
      }
    }
    this.#store = options?.store ?? new MemoryStore();
    this.#queueCapacity = options?.queueCapacity ?? 1024;
    this.#maxRunsPerWorkflow = options?.maxRunsPerWorkflow ?? 1000;
    this.#scope = new TaskGroup({ graceMs: options?.graceMs, onStraggler: options?.onStraggler });
    this.#tracing = new Tracing(options?.tracer);
  }

  /** The board's store: list what was published with `board.store.list({ type, correlationId, ... })`. */
  get store(): BoardStore {
    return this.#store;
  }

  /** Aborts when the board shuts down. */
  get signal(): AbortSignal {
    return this.#scope.signal;
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
    if (this.#reserved.has(name)) throw new RangeError(`an agent named '${name}' already exists on this board`);
    this.#reserved.add(name);
    return new AgentBuilder(name, (spec) => this.#register(spec));
  }

  /** Adds a board-level component (see {@link BoardComponent}). */
  use(component: BoardComponent): this {
    this.#assertOpen();
    assertOptions(component, 'component');
    for (const key of ['onPublish', 'beforeSchedule', 'onIdle', 'onError'] as const) {
      const hook = (component as Record<string, unknown>)[key];
      if (hook !== undefined && typeof hook !== 'function') throw new TypeError(`component ${key} must be a function, got ${describe(hook)}`);
    }
    this.#components = sortByPriority([...this.#components, component]);
    this.#publishComponents = this.#components.filter((c) => c.onPublish !== undefined);
    this.#scheduleComponents = this.#components.filter((c) => c.beforeSchedule !== undefined);
    return this;
  }

  #register(spec: AgentSpec): void {
    this.#assertOpen();
    const types = [...spec.subscriptions.flatMap((sub) => sub.types), ...[...spec.publishes.values()].map((p) => p.type)];
    for (const type of types) this.#checkType(type); // all checked before any is recorded
    for (const type of types) this.#types.set(type.name, type);
    const runtime: AgentRuntime = {
      spec,
      viewer: { name: spec.name, labels: spec.labels, tenant: spec.tenant },
      permits: new Semaphore(spec.maxConcurrency),
      capacity: spec.queueCapacity ?? this.#queueCapacity,
      maxRuns: spec.maxRunsPerWorkflow ?? this.#maxRunsPerWorkflow,
      queued: 0,
      reserved: 0,
      running: 0,
      done: 0,
      failed: 0,
      cancelled: 0,
      retries: 0,
      spaceWaiters: new Deque(),
      reader: undefined,
      pumping: false,
      wake: false,
      init: undefined,
      initialized: false,
    };
    this.#agents.set(spec.name, runtime);
    for (const subscription of spec.subscriptions) {
      for (const typeName of new Set(subscription.types.map((t) => t.name))) {
        let entries = this.#index.get(typeName);
        if (entries === undefined) this.#index.set(typeName, (entries = []));
        entries.push({ agent: runtime, subscription });
      }
    }
    this.#reach = undefined;
  }

  #checkType(type: AnyArtifactType): void {
    const known = this.#types.get(type.name);
    if (known !== undefined && known !== type) {
      throw new TypeError(`two different artifact types are named '${type.name}'; type names must be unique on a board`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Publishing

  /**
   * Validates, stores and schedules one artifact. Waits while an agent that consumes this type has a
   * full queue (backpressure). Rejects with a `ValidationError` (nothing stored), a
   * `PublishBlockedError`, a `CancelledError` for a cancelled workflow, or a `BoardClosedError`.
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
    const meta = this.#externalMeta(type, options);
    if (this.#workflows.get(meta.correlationId)?.state === 'cancelled') {
      throw new CancelledError(`workflow ${meta.correlationId} was cancelled`);
    }
    // Counted from the call on, so that runUntilIdle() right after an unawaited publish waits for it.
    this.#publishing++;
    this.#busy = true;
    const reserved: AgentRuntime[] = [];
    try {
      const entries = this.#index.get(type.name);
      if (entries !== undefined) {
        const waiting = this.#reserveIntake(entries, options?.signal, reserved);
        if (waiting !== undefined) await waiting;
      }
      return (await this.#publish(type as AnyArtifactType, payload, meta)) as Artifact<T>;
    } finally {
      for (const agent of reserved) this.#unreserve(agent);
      this.#publishing--;
      this.#checkIdle();
    }
  }

  /**
   * Publishes several payloads of one type, in order. Every payload is validated first: if one is
   * invalid, nothing is published and the `ValidationError` names the failing paths (`3.qty`).
   * Each payload starts its own workflow unless `correlationId` is given.
   */
  async publishMany<T, I>(type: ArtifactType<T, I>, payloads: readonly I[], options?: PublishCallOptions): Promise<Artifact<T>[]> {
    this.#externalMeta(type, options);
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

  #externalMeta(type: unknown, options: PublishCallOptions | undefined): PublishMeta {
    this.#assertOpen();
    assertArtifactType(type, 'publish type');
    assertOptions(options);
    assertSignal(options?.signal);
    if (options?.correlationId !== undefined && (typeof options.correlationId !== 'string' || options.correlationId === '')) {
      throw new TypeError(`correlationId must be a non-empty string, got ${describe(options.correlationId)}`);
    }
    return {
      producedBy: EXTERNAL,
      correlationId: options?.correlationId ?? this.#ids.next(),
      tags: checkTags(options?.tags),
      visibility: checkVisibility(options?.visibility),
      causedBy: EMPTY,
      publisher: EXTERNAL_PUBLISHER,
    };
  }

  /**
   * External intake: before anything is stored, takes a place in the queue of every agent that
   * consumes the type, waiting while one is full. The place is taken in the same tick as the check,
   * so any number of concurrent publishers cannot overfill a queue; it is given back when the publish
   * ends (its run, if any, is counted as queued by then). Synchronous unless it must wait.
   */
  #reserveIntake(entries: readonly IndexEntry[], signal: AbortSignal | undefined, reserved: AgentRuntime[]): Promise<void> | undefined {
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    for (let i = 0; i < entries.length; i++) {
      const agent = entries[i]!.agent;
      if (reserved.includes(agent)) continue;
      if (this.#full(agent)) return this.#reserveSlowly(entries, i, signal, reserved);
      agent.reserved++;
      reserved.push(agent);
    }
    return undefined;
  }

  async #reserveSlowly(entries: readonly IndexEntry[], from: number, signal: AbortSignal | undefined, reserved: AgentRuntime[]): Promise<void> {
    for (let i = from; i < entries.length; i++) {
      const agent = entries[i]!.agent;
      if (reserved.includes(agent)) continue;
      while (this.#full(agent)) await this.#waitForSpace(agent, signal);
      agent.reserved++;
      reserved.push(agent);
    }
  }

  #unreserve(agent: AgentRuntime): void {
    agent.reserved--;
    if (!this.#full(agent)) this.#wakeWaiters(agent);
  }

  /** True when `agent`'s queue, counting places reserved by publishes in progress, has no room. */
  #full(agent: AgentRuntime): boolean {
    return agent.queued + agent.reserved >= agent.capacity;
  }

  /**
   * Waits until `agent`'s queue has room. No listener on the board's own signal: shutdown fails every
   * space waiter itself, so a flood of waiting publishers adds nothing to a long-lived signal.
   */
  #waitForSpace(agent: AgentRuntime, signal?: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.reject(new BoardClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    return new Promise<void>((resolve, reject) => {
      let live = true;
      const removeAbort = onAbort(signal, () => {
        live = false;
        reject(signal!.reason as unknown);
      });
      agent.spaceWaiters.push({
        wake: () => {
          if (!live) return false;
          live = false;
          removeAbort();
          resolve();
          return true;
        },
        fail: (reason) => {
          if (!live) return;
          live = false;
          removeAbort();
          reject(reason);
        },
      });
    });
  }

  /**
   * Wakes as many publishers waiting for `agent`'s queue as it has room for (at least one). A woken
   * publisher checks again, so waking one too many costs a re-wait, never an overfull queue.
   */
  #wakeWaiters(agent: AgentRuntime): void {
    let room = Math.max(1, agent.capacity - agent.queued);
    while (room > 0) {
      const waiter = agent.spaceWaiters.shift();
      if (waiter === undefined) return;
      if (waiter.wake()) room--;
    }
  }

  async #publish(type: AnyArtifactType, payload: unknown, meta: PublishMeta): Promise<Artifact> {
    this.#assertOpen();
    const wf = this.#workflowFor(meta.correlationId, true);
    if (wf.state === 'cancelled') throw new CancelledError(`workflow ${meta.correlationId} was cancelled`);
    this.#publishing++;
    wf.publishing++;
    this.#busy = true;
    try {
      let value = validatePayload(type, payload);
      if (isThenable(value)) value = await value;
      let artifact: Artifact = {
        id: this.#ids.next(),
        type: type.name,
        payload: value,
        producedBy: meta.producedBy,
        correlationId: meta.correlationId,
        tags: meta.tags,
        visibility: meta.visibility,
        createdAt: this.#isoNow(),
        causedBy: meta.causedBy,
      };
      if (this.#publishComponents.length > 0) artifact = await this.#applyPublishComponents(type, artifact);
      const span = this.#tracing.start(`publish ${type.name}`, {
        'skein.artifact.type': type.name,
        'skein.artifact.id': artifact.id,
        'skein.correlation_id': artifact.correlationId,
        'skein.produced_by': artifact.producedBy,
      });
      if (span !== undefined) artifact = { ...artifact, trace: this.#tracing.ref(span) };
      try {
        const stored = this.#store.putArtifact(Object.freeze(artifact));
        if (isThenable(stored)) await stored;
        this.#published++;
        if (this.#events.listening) {
          this.#events.emit({
            kind: 'published',
            at: Date.now(),
            artifactId: artifact.id,
            type: artifact.type,
            producedBy: artifact.producedBy,
            correlationId: artifact.correlationId,
          });
        }
        const entries = this.#index.get(artifact.type);
        if (entries !== undefined) {
          const routing = span === undefined ? this.#route(artifact, entries, meta.publisher) : this.#tracing.with(span, () => this.#route(artifact, entries, meta.publisher));
          if (routing !== undefined) await routing;
        }
        this.#tracing.end(span);
      } catch (error) {
        this.#tracing.end(span, error);
        throw error;
      }
      return artifact;
    } finally {
      this.#publishing--;
      wf.publishing--;
      this.#settled(wf);
    }
  }

  /** Publishes what the board itself has to say (a failure, an expired join, a stopped loop) in a workflow. */
  #publishFact<T>(type: ArtifactType<T>, payload: T, correlationId: string, causedBy: readonly string[]): Promise<Artifact> {
    return this.#publish(type as AnyArtifactType, payload, {
      producedBy: BOARD,
      correlationId,
      tags: EMPTY,
      visibility: PUBLIC,
      causedBy,
      publisher: BOARD_PUBLISHER,
    });
  }

  async #applyPublishComponents(type: AnyArtifactType, artifact: Artifact): Promise<Artifact> {
    let current = artifact;
    for (const component of this.#publishComponents) {
      const decision = await component.onPublish!(current);
      if (decision === undefined || decision === null) continue;
      if (typeof decision === 'object' && 'block' in decision && !('payload' in decision)) {
        const reason = String(decision.block);
        if (this.#events.listening) {
          this.#events.emit({ kind: 'blocked', at: Date.now(), type: type.name, producedBy: artifact.producedBy, reason });
        }
        throw new PublishBlockedError(type.name, reason);
      }
      const next = decision as Artifact;
      if (next.type !== current.type || next.id !== current.id) {
        throw new TypeError(`component ${component.name ?? '(unnamed)'} onPublish must keep the artifact's type and id`);
      }
      let payload = next.payload;
      if (payload !== current.payload) {
        const revalidated = validatePayload(type, payload);
        payload = isThenable(revalidated) ? await revalidated : revalidated;
      }
      current = {
        ...next,
        payload,
        tags: checkTags(next.tags, 'onPublish tags'),
        visibility: checkVisibility(next.visibility, 'onPublish visibility'),
      };
    }
    return current;
  }

  // ---------------------------------------------------------------------------------------------
  // Matching, gates and scheduling

  /**
   * Offers `artifact` to each matching subscription, from `from` on. Synchronous while every step is
   * (the common case with the memory store): a promise only where something really waits.
   */
  #route(artifact: Artifact, entries: readonly IndexEntry[], publisher: Publisher, from = 0): Promise<void> | undefined {
    for (let i = from; i < entries.length; i++) {
      const { agent, subscription } = entries[i]!;
      if (!this.#matches(agent, subscription, artifact)) continue;
      const pending =
        subscription.batch === undefined && subscription.types.length === 1
          ? this.#schedule(agent, subscription, [artifact], publisher)
          : this.#routeToGate(agent, subscription, artifact, publisher);
      if (pending !== undefined) return pending.then(() => this.#route(artifact, entries, publisher, i + 1));
    }
    return undefined;
  }

  async #routeToGate(agent: AgentRuntime, subscription: Subscription, artifact: Artifact, publisher: Publisher): Promise<void> {
    let groups: Artifact[][];
    try {
      groups = await this.#offerToGate(agent, subscription, artifact);
    } catch (error) {
      this.#skipped(agent.spec.name, artifact.correlationId, [artifact.id], `gate failed: ${summarizeError(error).message}`);
      return;
    }
    for (const inputs of groups) await this.#schedule(agent, subscription, inputs, publisher);
  }

  #matches(agent: AgentRuntime, subscription: Subscription, artifact: Artifact): boolean {
    const spec = agent.spec;
    if (artifact.producedBy === spec.name && !spec.allowSelfTrigger) return false;
    if (subscription.from !== undefined && !subscription.from.has(artifact.producedBy)) return false;
    for (const tag of subscription.tags) if (!artifact.tags.includes(tag)) return false;
    if (!isVisibleTo(artifact.visibility, artifact.producedBy, agent.viewer)) return false;
    if (subscription.where !== undefined) {
      try {
        return subscription.where(artifact) === true;
      } catch (error) {
        this.#skipped(spec.name, artifact.correlationId, [artifact.id], `where threw: ${summarizeError(error).message}`);
        return false;
      }
    }
    return true;
  }

  #internalError(operation: string, agent: string | undefined, error: unknown): void {
    if (this.#events.listening) this.#events.emit({ kind: 'error', at: Date.now(), operation, agent, error: summarizeError(error) });
  }

  #skipped(agent: string, correlationId: string, inputIds: readonly string[], reason: string): void {
    if (this.#events.listening) this.#events.emit({ kind: 'skipped', at: Date.now(), agent, correlationId, inputIds, reason });
  }

  /** Serialises gate reads and writes so that no store needs to lock them. */
  #serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#gateChain.then(operation);
    this.#gateChain = result.then(noop, noop);
    return result;
  }

  /** Adds an artifact to its AND gate, batch or join; returns the input groups now complete. */
  async #offerToGate(agent: AgentRuntime, subscription: Subscription, artifact: Artifact): Promise<Artifact[][]> {
    const joinKey = joinKeyOf(subscription, artifact);
    const key = gateKey(agent.spec.name, subscription.index, artifact.correlationId, joinKey);
    const ready = await this.#serialize(async () => {
      const existing = await this.#store.getGate(key);
      const gate = existing ?? openGate(key, agent.spec.name, subscription, artifact.correlationId, joinKey, Date.now());
      const groups = addToGate(gate, subscription, artifact);
      if (isEmpty(gate)) {
        if (existing !== undefined) await this.#store.deleteGate(key);
        this.#disarm(key);
      } else {
        await this.#store.putGate(gate);
        if (gate.deadline !== undefined && !this.#timers.has(key)) this.#arm(gate, agent, subscription);
      }
      return groups;
    });
    return Promise.all(ready.map((ids) => this.#load(ids, artifact)));
  }

  async #load(ids: readonly string[], known?: Artifact): Promise<Artifact[]> {
    if (ids.length === 1 && known !== undefined && ids[0] === known.id) return [known];
    let found = this.#store.getArtifacts(ids);
    if (isThenable(found)) found = await found;
    return found.map((artifact, i) => {
      if (artifact === undefined) throw new Error(`artifact ${ids[i]} is missing from the store`);
      return artifact;
    });
  }

  #arm(gate: GateRecord, agent: AgentRuntime, subscription: Subscription): void {
    const wf = this.#workflowFor(gate.correlationId, true);
    const entry: TimerEntry = {
      correlationId: gate.correlationId,
      timer: setTimeout(() => this.#spawn(() => this.#onDeadline(gate.key, entry, agent, subscription)), Math.max(0, gate.deadline! - Date.now())),
    };
    this.#timers.set(gate.key, entry);
    this.#timerCount++;
    wf.timers++;
    this.#busy = true;
  }

  /** Clears a gate's timer, if armed. */
  #disarm(key: string): void {
    const entry = this.#timers.get(key);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.#timers.delete(key);
    this.#timerCount--;
    const wf = this.#workflows.get(entry.correlationId);
    if (wf !== undefined) {
      wf.timers--;
      this.#settled(wf);
    } else this.#checkIdle();
  }

  /** A batch's timeout or a join's window passed: flush the batch, or publish what the join had. */
  async #onDeadline(key: string, entry: TimerEntry, agent: AgentRuntime, subscription: Subscription): Promise<void> {
    const wf = this.#workflowFor(entry.correlationId, true);
    let owned = false;
    try {
      const gate = await this.#serialize(async () => {
        // Disarmed meanwhile (the gate completed, its workflow was cancelled): nothing to do.
        if (this.#timers.get(key) !== entry) return undefined;
        // From here a new gate under this key gets a timer of its own.
        this.#timers.delete(key);
        owned = true;
        const found = await this.#store.getGate(key);
        if (found !== undefined) await this.#store.deleteGate(key);
        return found;
      });
      if (gate === undefined || this.#closed) return;
      if (gate.kind === 'batch') {
        const inputs = await this.#load(gate.slots[0]!);
        if (inputs.length > 0) await this.#schedule(agent, subscription, inputs, BOARD_PUBLISHER);
      } else {
        const received = gate.slots.flatMap((ids, i) => ids.map((id) => ({ id, type: subscription.types[i]!.name })));
        const missing = subscription.types.filter((_, i) => gate.slots[i]!.length === 0).map((type) => type.name);
        const key = gate.joinKey ?? gate.correlationId;
        const payload = { agent: agent.spec.name, key, withinMs: subscription.join!.withinMs, received, missing };
        await this.#publishFact(JoinExpired, payload, gate.correlationId, received.map((r) => r.id));
      }
    } catch (error) {
      if (!this.#closed) this.#internalError('batch or join deadline', agent.spec.name, error);
    } finally {
      if (owned) {
        this.#timerCount--;
        wf.timers--;
        this.#settled(wf);
      }
    }
  }

  /** Loop limit, components, backpressure, then the queue. Synchronous unless one of them must wait. */
  #schedule(agent: AgentRuntime, subscription: Subscription, inputs: Artifact[], publisher: Publisher, replayOf?: string): Promise<void> | undefined {
    if (this.#closed) return undefined;
    const wf = this.#workflowFor(inputs[0]!.correlationId, true);
    if (wf.state === 'cancelled') return undefined;
    if (
      (wf.runsByAgent.get(agent.spec.name) ?? 0) >= agent.maxRuns ||
      (this.#scheduleComponents.length > 0 && replayOf === undefined) ||
      (publisher.kind === 'agent' && agent.queued >= agent.capacity && !this.#reaches(agent.spec.name, publisher.agent.spec.name))
    ) {
      return this.#scheduleSlowly(agent, subscription, inputs, publisher, wf, replayOf);
    }
    return this.#enqueue(agent, subscription, inputs, wf, replayOf);
  }

  async #scheduleSlowly(
    agent: AgentRuntime,
    subscription: Subscription,
    inputs: Artifact[],
    publisher: Publisher,
    wf: WorkflowRuntime,
    replayOf: string | undefined,
  ): Promise<void> {
    const name = agent.spec.name;
    const correlationId = wf.id;
    if ((wf.runsByAgent.get(name) ?? 0) >= agent.maxRuns) {
      this.#skipped(name, correlationId, inputs.map((i) => i.id), `run limit of ${agent.maxRuns} per workflow reached`);
      if (!wf.loopReported.has(name)) {
        wf.loopReported.add(name);
        const reason = `agent '${name}' reached its limit of ${agent.maxRuns} runs in workflow ${correlationId}; further runs were not scheduled`;
        await this.#publishFact(LoopDetected, { agent: name, limit: agent.maxRuns, reason }, correlationId, inputs.map((i) => i.id));
      }
      return;
    }
    if (this.#scheduleComponents.length > 0 && replayOf === undefined) {
      const decision = await this.#askComponents({ agent: name, correlationId, inputs });
      if (decision === 'skip') {
        this.#skipped(name, correlationId, inputs.map((i) => i.id), 'skipped by a component');
        return;
      }
      if (typeof decision === 'number') {
        // Asked again when the delay passes: a component may defer as often as it likes.
        this.#defer(decision, wf, async () => {
          await this.#schedule(agent, subscription, inputs, BOARD_PUBLISHER);
        });
        return;
      }
    }
    await this.#scheduleWaiting(agent, subscription, inputs, publisher, wf, replayOf);
  }

  /** Waits for queue space where that cannot deadlock, then queues. */
  async #scheduleWaiting(
    agent: AgentRuntime,
    subscription: Subscription,
    inputs: Artifact[],
    publisher: Publisher,
    wf: WorkflowRuntime,
    replayOf: string | undefined,
  ): Promise<void> {
    // Runs wait on queued runs only, never on places reserved by external publishes: an external
    // publish may hold a reservation while it waits for another agent, and that agent's runs must not
    // wait for it in turn.
    if (publisher.kind === 'agent' && agent.queued >= agent.capacity && !this.#reaches(agent.spec.name, publisher.agent.spec.name)) {
      while (agent.queued >= agent.capacity) await this.#waitForSpace(agent);
    }
    if (this.#closed || (wf.state) === 'cancelled') return;
    await this.#enqueue(agent, subscription, inputs, wf, replayOf);
  }

  async #askComponents(candidate: ScheduleCandidate): Promise<'continue' | 'skip' | number> {
    for (const component of this.#scheduleComponents) {
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

  #defer(delayMs: number, wf: WorkflowRuntime, again: () => Promise<void>): void {
    const entry = {
      correlationId: wf.id,
      fire: (): void => {
        if (!this.#deferred.delete(entry)) return;
        this.#spawn(() =>
          again().finally(() => {
            this.#timerCount--;
            wf.timers--;
            this.#settled(wf);
          }),
        );
      },
      timer: undefined as unknown as ReturnType<typeof setTimeout>,
    };
    entry.timer = setTimeout(entry.fire, delayMs);
    this.#deferred.add(entry);
    this.#timerCount++;
    wf.timers++;
    this.#busy = true;
  }

  #enqueue(agent: AgentRuntime, subscription: Subscription, inputs: Artifact[], wf: WorkflowRuntime, replayOf?: string): Promise<void> | undefined {
    const run: RunRecord = {
      id: this.#ids.next(),
      agent: agent.spec.name,
      subscription: subscription.index,
      inputIds: inputs.length === 1 ? [inputs[0]!.id] : inputs.map((input) => input.id),
      correlationId: wf.id,
      enqueuedAt: Date.now(),
      replayOf,
    };
    wf.runsByAgent.set(agent.spec.name, (wf.runsByAgent.get(agent.spec.name) ?? 0) + 1);
    agent.queued++;
    wf.queued++;
    this.#queued++;
    if (wf.state === 'paused') this.#pausedQueued++;
    this.#busy = true;
    // The run will execute in this async context (AsyncLocalStorage, OpenTelemetry), not the pump's.
    this.#contexts.set(run.id, new AsyncResource('skein.board.run'));
    let queued: unknown;
    try {
      queued = this.#store.enqueueRun(run);
    } catch (error) {
      this.#unqueue(agent, wf, run);
      throw error;
    }
    if (isThenable(queued)) {
      return Promise.resolve(queued).then(
        () => this.#enqueued(agent, run),
        (error: unknown) => {
          this.#unqueue(agent, wf, run);
          throw error;
        },
      );
    }
    this.#enqueued(agent, run);
    return undefined;
  }

  #unqueue(agent: AgentRuntime, wf: WorkflowRuntime, run: RunRecord): void {
    this.#contexts.delete(run.id);
    this.#dequeued(agent, wf, 1);
    wf.runsByAgent.set(agent.spec.name, (wf.runsByAgent.get(agent.spec.name) ?? 1) - 1);
  }

  #enqueued(agent: AgentRuntime, run: RunRecord): void {
    if (this.#events.listening) {
      this.#events.emit({ kind: 'scheduled', at: Date.now(), runId: run.id, agent: run.agent, correlationId: run.correlationId, inputIds: run.inputIds });
    }
    this.#pump(agent);
  }

  /** Bookkeeping for runs that left the queue (claimed or cancelled). */
  #dequeued(agent: AgentRuntime, wf: WorkflowRuntime, count: number, wasPaused = wf.state === 'paused'): void {
    agent.queued -= count;
    wf.queued -= count;
    this.#queued -= count;
    if (wasPaused) this.#pausedQueued -= count;
    if (count > 0) this.#wakeWaiters(agent);
  }

  /** True when `from` can be reached from `to` in the agent graph (so `to` waiting on `from` could deadlock). */
  #reaches(to: string, from: string): boolean {
    if (this.#reach === undefined) {
      const reach = new Map<string, Set<string>>();
      const next = (name: string): string[] => {
        const spec = this.#agents.get(name)?.spec;
        if (spec === undefined) return [];
        const out: string[] = [];
        for (const typeName of spec.publishes.keys()) for (const entry of this.#index.get(typeName) ?? []) out.push(entry.agent.spec.name);
        return out;
      };
      for (const start of this.#agents.keys()) {
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

  // ---------------------------------------------------------------------------------------------
  // Dispatch and runs

  #pump(agent: AgentRuntime): void {
    agent.wake = true;
    if (agent.pumping || this.#closed) return;
    agent.pumping = true;
    this.#spawn(() => this.#pumpLoop(agent).catch((error: unknown) => this.#internalError('claiming a run', agent.spec.name, error)));
  }

  async #pumpLoop(agent: AgentRuntime): Promise<void> {
    try {
      while (agent.wake && !this.#closed) {
        agent.wake = false;
        while (agent.queued > 0 && !this.#closed) {
          // No signal on this wait: a listener per wait on the board's long-lived signal is what skein
          // avoids. At shutdown every run is aborted, so permits come back and the loop sees #closed.
          const permit = await agent.permits.acquire();
          if (this.#closed) {
            permit.release();
            return;
          }
          let run: RunRecord | undefined;
          try {
            const claimed = this.#closed ? undefined : this.#store.claimRun(agent.spec.name);
            run = isThenable(claimed) ? await claimed : claimed;
          } catch (error) {
            permit.release();
            throw error;
          }
          if (run === undefined) {
            permit.release();
            break;
          }
          const wf = this.#workflowFor(run.correlationId, true);
          this.#dequeued(agent, wf, 1);
          if (this.#closed || wf.state === 'cancelled') {
            // Shut down or cancelled while claiming: the run ends as cancelled, like every queued one.
            permit.release();
            this.#contexts.delete(run.id);
            await this.#cancelled(agent, run, this.#closed ? this.#scope.signal.reason : wf.controller?.signal.reason);
            this.#settled(wf);
            if (this.#closed) return;
            continue;
          }
          this.#running++;
          wf.running++;
          agent.running++;
          const claimed = run;
          // The run executes in the async context it was scheduled in (AsyncLocalStorage, OpenTelemetry), not the pump's.
          const resource = this.#contexts.get(run.id);
          this.#contexts.delete(run.id);
          // #execute never rejects: it turns every outcome into finished, failed or cancelled.
          this.#scope.spawn(() =>
            resource === undefined ? this.#execute(agent, claimed, wf, permit) : resource.runInAsyncScope(this.#execute, this, agent, claimed, wf, permit),
          );
        }
      }
    } finally {
      agent.pumping = false;
    }
  }

  readonly #execute = async (agent: AgentRuntime, run: RunRecord, wf: WorkflowRuntime, permit: Permit): Promise<void> => {
    if (this.#closed) (wf.controller ??= new AbortController()).abort(this.#scope.signal.reason);
    const state = new RunState(agent, run, wf);
    if (this.#events.listening) this.#events.emit({ kind: 'started', at: state.startedAt, runId: run.id, agent: run.agent, correlationId: run.correlationId });
    try {
      const outputs = await this.#traced(state);
      const finished = this.#store.finishRun(run.id, 'finished');
      if (isThenable(finished)) await finished;
      agent.done++;
      this.#tracing.end(state.span, undefined, { 'skein.attempts': state.attempts, 'skein.outputs': outputs });
      if (this.#events.listening) {
        const at = Date.now();
        this.#events.emit({ kind: 'finished', at, runId: run.id, agent: run.agent, correlationId: run.correlationId, durationMs: at - state.startedAt, outputs });
      }
    } catch (error) {
      if (state.aborted) {
        this.#tracing.end(state.span, undefined, { 'skein.cancelled': true });
        await this.#cancelled(agent, run, wf.controller!.signal.reason);
      } else {
        await this.#tracing.with(state.span, () => this.#failed(state, error));
        this.#tracing.end(state.span, error, { 'skein.attempts': state.attempts });
      }
    } finally {
      permit.release();
      this.#running--;
      wf.running--;
      agent.running--;
      this.#settled(wf);
    }
  };

  /** Loads the inputs, opens the run's span (linked to its inputs' publish spans) and runs inside it. */
  readonly #traced = async (state: RunState): Promise<number> => {
    const loaded = await this.#load(state.run.inputIds);
    state.inputs = loaded;
    const name = state.agent.spec.name;
    state.span = this.#tracing.start(`run ${name}`, { 'skein.agent': name, 'skein.run_id': state.run.id, 'skein.correlation_id': state.run.correlationId }, loaded);
    return state.span === undefined ? this.#runBody(state) : this.#tracing.with(state.span, () => this.#runBody(state));
  };

  async #cancelled(agent: AgentRuntime, run: RunRecord, reason: unknown): Promise<void> {
    agent.cancelled++;
    try {
      await this.#store.finishRun(run.id, 'cancelled');
    } catch {
      // A store that cannot record a cancellation must not turn it into a failure.
    }
    if (this.#events.listening) {
      this.#events.emit({ kind: 'cancelled', at: Date.now(), runId: run.id, agent: run.agent, correlationId: run.correlationId, reason: summarizeError(reason).message });
    }
  }

  async #failed(state: RunState, error: unknown): Promise<void> {
    const { agent, run, inputs, attempts, startedAt } = state;
    agent.failed++;
    const ctx = new RunContext(this.#host, state, attempts, inputs, undefined);
    for (const hooks of agent.spec.hooks) {
      if (hooks.error === undefined) continue;
      try {
        await hooks.error(error, ctx);
      } catch {
        // An error hook that fails cannot make the failure worse; the original error is reported.
      }
    }
    for (const component of this.#components) {
      if (component.onError === undefined) continue;
      try {
        await component.onError(error, { agent: agent.spec.name, runId: run.id, correlationId: run.correlationId, inputs, attempts });
      } catch {
        // Same as above.
      }
    }
    const letter: DeadLetter = { id: this.#ids.next(), run, error: summarizeError(error), attempts, failedAt: new Date(Date.now()).toISOString() };
    try {
      await this.#store.addDeadLetter(letter);
      await this.#store.finishRun(run.id, 'failed');
    } catch {
      // The failure is still published below.
    }
    if (this.#events.listening) {
      this.#events.emit({
        kind: 'failed',
        at: Date.now(),
        runId: run.id,
        agent: run.agent,
        correlationId: run.correlationId,
        durationMs: Date.now() - startedAt,
        attempts,
        error: letter.error,
      });
    }
    if (this.#closed || this.#workflows.get(run.correlationId)?.state === 'cancelled') return;
    try {
      const payload = { agent: agent.spec.name, runId: run.id, inputIds: run.inputIds, attempts, error: letter.error, deadLetterId: letter.id };
      await this.#publishFact(AgentFailed, payload, run.correlationId, run.inputIds);
    } catch {
      // Closed or cancelled meanwhile: the dead letter and the event remain.
    }
  }

  /** What run contexts reach the board through: one object per board, no closure per run. */
  readonly #host: RunHost = {
    publishOutput: (state, draft) => this.#publishOutput(state, draft),
    reader: (agent) => (agent.reader ??= this.#reader(agent)),
  };

  #reader(agent: AgentRuntime): BoardReader {
    const visible = (artifact: Artifact): boolean => isVisibleTo(artifact.visibility, artifact.producedBy, agent.viewer);
    return {
      list: async (query?: ArtifactQuery) => {
        const limit = query?.limit;
        const all = await this.#store.list({ ...query, limit: undefined });
        const seen = all.filter(visible);
        return (limit === undefined ? seen : seen.slice(0, limit)) as never;
      },
      get: async (id: string) => {
        if (typeof id !== 'string') throw new TypeError(`id must be a string, got ${describe(id)}`);
        const [artifact] = await this.#store.getArtifacts([id]);
        return artifact !== undefined && visible(artifact) ? artifact : undefined;
      },
    };
  }

  async #initialize(agent: AgentRuntime): Promise<void> {
    if (agent.initialized) return;
    agent.init ??= (async () => {
      const info: AgentInfo = { name: agent.spec.name, signal: this.#scope.signal };
      for (const hooks of agent.spec.hooks) if (hooks.initialize !== undefined) await hooks.initialize(info);
      agent.initialized = true;
    })().catch((error: unknown) => {
      agent.init = undefined;
      throw error;
    });
    await agent.init;
  }

  /** Hooks, policy, attempts, outputs. Returns how many artifacts the run published. */
  /** Hooks, policy, attempts, outputs. Returns how many artifacts the run published. */
  async #runBody(state: RunState): Promise<number> {
    const spec = state.agent.spec;
    if (spec.hooks.length > 0) {
      await this.#initialize(state.agent);
      const runCtx = new RunContext(this.#host, state, 0, state.inputs, undefined);
      for (const hooks of spec.hooks) {
        if (hooks.preConsume === undefined) continue;
        const replaced = await hooks.preConsume(state.inputs, runCtx);
        if (replaced !== undefined) state.inputs = replaced;
      }
    }
    if (state.inputs.length === 0) return 0;
    // Without a policy or a timeout the run's signal is never needed unless the body reads it.
    let drafts: readonly Draft[];
    if (spec.policy !== undefined) {
      // Normalised: a fallback layer may answer with a value of its own instead of the attempt's drafts.
      drafts = this.#normalize(state.agent, await spec.policy.execute((signal) => this.#attemptWithin(state, signal), { signal: state.signal }));
    } else {
      drafts = spec.timeoutMs === undefined ? await this.#attempt(state, undefined) : await this.#attemptWithin(state, state.signal);
    }
    let published = state.streamed ?? EMPTY_ARTIFACTS;
    if (drafts.length > 0) {
      published = [...published];
      for (const draft of drafts) (published as Artifact[]).push(await this.#publishOutput(state, draft));
    }
    if (spec.hooks.length > 0) {
      const ctx = new RunContext(this.#host, state, state.attempts, state.inputs, undefined);
      for (const hooks of spec.hooks) if (hooks.postPublish !== undefined) await hooks.postPublish(published, ctx);
    }
    return published.length;
  }

  /** One attempt under the agent's policy: counts it, reports retries, applies the timeout. */
  async #attemptWithin(state: RunState, signal: AbortSignal): Promise<readonly Draft[]> {
    try {
      const timeoutMs = state.agent.spec.timeoutMs;
      return timeoutMs === undefined ? await this.#attempt(state, signal) : await timeout((s) => this.#attempt(state, s), timeoutMs, { signal });
    } catch (error) {
      state.lastError = error;
      throw error;
    }
  }

  async #attempt(state: RunState, signal: AbortSignal | undefined): Promise<readonly Draft[]> {
    const { agent, run } = state;
    const attempt = ++state.attempts;
    if (attempt > 1) {
      agent.retries++;
      if (this.#events.listening) {
        this.#events.emit({
          kind: 'retrying',
          at: Date.now(),
          runId: run.id,
          agent: run.agent,
          correlationId: run.correlationId,
          attempt,
          error: summarizeError(state.lastError),
        });
      }
    }
    const spec = agent.spec;
    let inputs = state.inputs;
    const ctx = new RunContext(this.#host, state, attempt, inputs, signal);
    if (spec.hooks.length === 0) {
      if (spec.bestOf !== undefined) return this.#bestOf(agent, inputs, ctx);
      return this.#evaluate(agent, inputs, ctx, state);
    }
    for (const hooks of spec.hooks) {
      if (hooks.preEvaluate === undefined) continue;
      const replaced = await hooks.preEvaluate(inputs, ctx);
      if (replaced !== undefined) inputs = replaced;
    }
    const drafts = spec.bestOf !== undefined ? await this.#bestOf(agent, inputs, ctx) : await this.#evaluate(agent, inputs, ctx, state);
    return this.#postEvaluate(agent, drafts, ctx);
  }

  async #postEvaluate(agent: AgentRuntime, drafts: readonly Draft[], ctx: AgentContext): Promise<readonly Draft[]> {
    let current = drafts;
    for (const hooks of agent.spec.hooks) {
      if (hooks.postEvaluate === undefined) continue;
      const replaced = await hooks.postEvaluate(current, ctx);
      if (replaced !== undefined) current = replaced;
    }
    return current;
  }

  /** Runs the engine chain and the body once. Yields go to `onYield` when given, or are collected. */
  async #evaluate(agent: AgentRuntime, inputs: readonly Artifact[], ctx: AgentContext, stream: RunState | undefined): Promise<readonly Draft[]> {
    const stages = agent.spec.stages;
    let value: unknown = inputs;
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i]!;
      const last = i === stages.length - 1;
      const isEngine = stage.name !== 'handle' || !last;
      const span = isEngine ? this.#tracing.start(`engine ${stage.name}`, { 'skein.agent': agent.spec.name, 'skein.engine': stage.name }) : undefined;
      try {
        const input = value;
        value = this.#tracing.with(span, () => stage.run(input, ctx));
        if (last && isAsyncIterable(value)) {
          const collected: Draft[] = [];
          for await (const item of value) {
            const drafts = this.#normalize(agent, item);
            if (stream === undefined) collected.push(...drafts);
            else {
              for (const draft of await this.#postEvaluate(agent, drafts, ctx)) (stream.streamed ??= []).push(await this.#publishOutput(stream, draft));
            }
            if (ctx.signal.aborted) throw ctx.signal.reason;
          }
          this.#tracing.end(span);
          return collected;
        }
        if (isThenable(value)) value = await value;
        this.#tracing.end(span);
      } catch (error) {
        this.#tracing.end(span, error);
        throw error;
      }
    }
    return this.#normalize(agent, value);
  }

  /**
   * n evaluations in one `gather` (settle mode): with a deadline, those still running when it passes
   * are aborted (and awaited), and the best-scoring finished one wins.
   */
  async #bestOf(agent: AgentRuntime, inputs: readonly Artifact[], ctx: AgentContext): Promise<readonly Draft[]> {
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
  #normalize(agent: AgentRuntime, value: unknown): Draft[] {
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
    throw new OutputError(
      `agent '${spec.name}' publishes several types (${[...spec.publishes.keys()].join(', ')}): return Type.draft(payload) to say which`,
    );
  }

  async #publishOutput(state: RunState, draft: Draft): Promise<Artifact> {
    const { agent, run, inputs } = state;
    const declared = agent.spec.publishes.get(draft.type.name);
    if (declared === undefined || declared.type !== draft.type) {
      throw new OutputError(`agent '${agent.spec.name}' does not publish ${draft.type.name}; declare publishes(${draft.type.name})`);
    }
    const extraTags = checkTags(draft.options?.tags, 'output tags');
    return this.#publish(declared.type, draft.payload, {
      producedBy: agent.spec.name,
      correlationId: run.correlationId,
      tags: extraTags.length === 0 ? declared.tags : [...new Set([...declared.tags, ...extraTags])],
      visibility: draft.options?.visibility === undefined ? declared.visibility : checkVisibility(draft.options.visibility, 'output visibility'),
      causedBy: inputs.map((input) => input.id),
      publisher: { kind: 'agent', agent },
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Idle, workflows, dead letters

  #workflowFor(id: string, create: true): WorkflowRuntime;
  #workflowFor(id: string, create: false): WorkflowRuntime | undefined;
  #workflowFor(id: string, create: boolean): WorkflowRuntime | undefined {
    let wf = this.#workflows.get(id);
    if (wf === undefined && create) {
      wf = {
        id,
        state: 'active',
        queued: 0,
        running: 0,
        timers: 0,
        publishing: 0,
        runsByAgent: new Map(),
        loopReported: new Set(),
        controller: undefined,
        waiters: new Set(),
      };
      this.#workflows.set(id, wf);
    }
    return wf;
  }

  #workflowBusy(wf: WorkflowRuntime): boolean {
    return wf.queued + wf.running + wf.timers + wf.publishing > 0;
  }

  /** Called whenever a workflow's counters went down: settles its waiters, forgets it, checks board idle. */
  #settled(wf: WorkflowRuntime): void {
    if (!this.#workflowBusy(wf)) {
      for (const waiter of wf.waiters) waiter.resolve();
      wf.waiters.clear();
      if (wf.state === 'active') this.#workflows.delete(wf.id);
    }
    this.#checkIdle();
  }

  #isIdle(): boolean {
    return this.#publishing === 0 && this.#running === 0 && this.#queued - this.#pausedQueued === 0 && this.#timerCount === 0;
  }

  #checkIdle(): void {
    if (this.#idleScheduled || !this.#isIdle()) return;
    this.#idleScheduled = true;
    queueMicrotask(() => this.#spawn(() => this.#becomeIdle()));
  }

  async #becomeIdle(): Promise<void> {
    try {
      if (!this.#isIdle() || this.#closed) return;
      if (this.#busy) {
        this.#busy = false;
        for (const component of this.#components) {
          if (component.onIdle === undefined) continue;
          try {
            await component.onIdle();
          } catch {
            // An idle hook's failure must not wedge idle detection.
          }
        }
        if (!this.#isIdle()) return;
        if (this.#events.listening) this.#events.emit({ kind: 'idle', at: Date.now() });
      }
      for (const waiter of this.#idleWaiters) waiter.resolve();
      this.#idleWaiters.clear();
    } finally {
      this.#idleScheduled = false;
      if (this.#idleWaiters.size > 0 && this.#isIdle() && !this.#closed) this.#checkIdle();
    }
  }

  /**
   * Resolves when no run is queued (runs of paused workflows aside) or running, no batch or join waits
   * on its timer, and no publish is in progress. Event-driven: no polling.
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
    if (this.#closed) return Promise.reject(new BoardClosedError());
    if (this.#isIdle() && !this.#idleScheduled && !this.#busy) return Promise.resolve();
    return this.#wait(this.#idleWaiters, options, () => `the board was not idle after ${options?.timeoutMs} ms`, () => this.#checkIdle());
  }

  #wait(set: Set<Waiter>, options: WaitOptions | undefined, timeoutMessage: () => string, arm: () => void): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        set.delete(waiter);
        removeAbort();
        if (timer !== undefined) clearTimeout(timer);
      };
      const waiter: Waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (reason) => {
          done();
          reject(reason);
        },
      };
      const removeAbort = onAbort(signal, () => waiter.reject(signal!.reason));
      if (options?.timeoutMs !== undefined) timer = setTimeout(() => waiter.reject(new TimeoutError(timeoutMessage())), options.timeoutMs);
      set.add(waiter);
      arm();
    });
  }

  /** The handle of the workflow with this correlation id (it need not have started yet). */
  workflow(correlationId: string): Workflow {
    if (typeof correlationId !== 'string' || correlationId === '') {
      throw new TypeError(`correlationId must be a non-empty string, got ${describe(correlationId)}`);
    }
    return new Workflow(correlationId, this);
  }

  /** @internal */
  workflowState(id: string): WorkflowState {
    return this.#workflows.get(id)?.state ?? 'active';
  }

  /** @internal */
  waitForWorkflow(id: string, options: WaitOptions | undefined): Promise<void> {
    assertOptions(options);
    assertSignal(options?.signal);
    if (options?.timeoutMs !== undefined) assertDuration(options.timeoutMs, 'timeoutMs');
    const wf = this.#workflows.get(id);
    if (wf?.state === 'cancelled') return Promise.reject(new CancelledError(`workflow ${id} was cancelled`));
    if (wf === undefined || !this.#workflowBusy(wf)) return Promise.resolve();
    if (this.#closed) return Promise.reject(new BoardClosedError());
    return this.#wait(wf.waiters, options, () => `workflow ${id} was not done after ${options?.timeoutMs} ms`, noop);
  }

  /** @internal */
  async cancelWorkflow(id: string, reason: unknown): Promise<void> {
    this.#assertOpen();
    const wf = this.#workflowFor(id, true);
    if (wf.state === 'cancelled') return;
    const wasPaused = wf.state === 'paused';
    wf.state = 'cancelled';
    const why = reason ?? new CancelledError(`workflow ${id} was cancelled`);
    // At once, before any store round trip: running runs are aborted (the controller is made here if
    // none has read its signal yet, so one that reads it later sees it aborted), timers stop, waiters
    // learn of it.
    (wf.controller ??= new AbortController()).abort(why);
    for (const [key, entry] of [...this.#timers]) if (entry.correlationId === id) this.#disarm(key);
    for (const entry of [...this.#deferred]) {
      if (entry.correlationId !== id) continue;
      clearTimeout(entry.timer);
      this.#deferred.delete(entry);
      this.#timerCount--;
      wf.timers--;
    }
    for (const waiter of wf.waiters) waiter.reject(why instanceof Error ? why : new CancelledError(`workflow ${id} was cancelled`, { cause: why }));
    await this.#store.setWorkflowState(id, 'cancelled');
    const dropped = await this.#store.cancelQueuedRuns(id);
    for (const run of dropped) {
      const agent = this.#agents.get(run.agent);
      this.#contexts.delete(run.id);
      if (agent === undefined) continue;
      this.#dequeued(agent, wf, 1, wasPaused);
      await this.#cancelled(agent, run, why);
    }
    await this.#serialize(async () => {
      for (const gate of await this.#store.listGates({ correlationId: id })) await this.#store.deleteGate(gate.key);
    });
    if (wf.running > 0) {
      await new Promise<void>((resolve) => wf.waiters.add({ resolve, reject: () => resolve() }));
    }
    this.#settled(wf);
  }

  /** @internal */
  async pauseWorkflow(id: string): Promise<void> {
    this.#assertOpen();
    const wf = this.#workflowFor(id, true);
    if (wf.state !== 'active') return;
    wf.state = 'paused';
    this.#pausedQueued += wf.queued;
    await this.#store.setWorkflowState(id, 'paused');
    this.#checkIdle();
  }

  /** @internal */
  async resumeWorkflow(id: string): Promise<void> {
    this.#assertOpen();
    const wf = this.#workflows.get(id);
    if (wf === undefined || wf.state !== 'paused') return;
    wf.state = 'active';
    this.#pausedQueued -= wf.queued;
    await this.#store.setWorkflowState(id, 'active');
    for (const agent of this.#agents.values()) if (agent.queued > 0) this.#pump(agent);
    this.#settled(wf);
  }

  /** @internal */
  async listArtifacts(query: ArtifactQuery): Promise<Artifact[]> {
    return this.#store.list(query);
  }

  /**
   * Picks up the work a previous board left in this board's (durable) store, after a crash or a
   * restart: runs left `running` are queued again (at least once: their outcome was never recorded),
   * queued runs are counted and started, paused and cancelled workflows keep their state (a cancelled
   * one's queued runs are dropped), and open batches and joins get their timers back (a deadline that
   * passed meanwhile fires at once). Call it once, after declaring the agents and before publishing.
   * Runs of agents this board does not declare stay in the store. Resolves with what it found.
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
    if (this.#resumed || this.#published > 0 || this.#queued > 0 || this.#running > 0 || this.#timerCount > 0) {
      throw new Error('resume() runs once, on a board that has done nothing yet: call it after declaring the agents, before publishing');
    }
    this.#resumed = true;
    const requeued = await this.#store.requeueRunning();
    for (const { correlationId, state } of await this.#store.listWorkflowStates()) {
      const wf = this.#workflowFor(correlationId, true);
      wf.state = state;
      if (state === 'cancelled') {
        for (const run of await this.#store.cancelQueuedRuns(correlationId)) {
          const agent = this.#agents.get(run.agent);
          if (agent !== undefined) await this.#cancelled(agent, run, new CancelledError(`workflow ${correlationId} was cancelled`));
        }
      }
    }
    let queued = 0;
    for (const run of await this.#store.listRuns({ state: 'queued' })) {
      const agent = this.#agents.get(run.agent);
      if (agent === undefined) continue;
      const wf = this.#workflowFor(run.correlationId, true);
      wf.runsByAgent.set(run.agent, (wf.runsByAgent.get(run.agent) ?? 0) + 1);
      agent.queued++;
      wf.queued++;
      this.#queued++;
      if (wf.state === 'paused') this.#pausedQueued++;
      this.#busy = true;
      queued++;
    }
    let gates = 0;
    for (const gate of await this.#store.listGates()) {
      const agent = this.#agents.get(gate.agent);
      const subscription = agent?.spec.subscriptions[gate.subscription];
      if (agent === undefined || subscription === undefined || gate.deadline === undefined || this.#timers.has(gate.key)) continue;
      this.#arm(gate, agent, subscription);
      gates++;
    }
    for (const agent of this.#agents.values()) if (agent.queued > 0) this.#pump(agent);
    for (const wf of [...this.#workflows.values()]) this.#settled(wf);
    return { requeued: requeued.length, queued, gates };
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
    const controller = new AbortController();
    const link = linkSignal(controller, this.#scope.signal);
    this.#scope.spawn(() =>
      every(intervalMs, task, {
        signal: controller.signal,
        immediate: options?.immediate ?? false,
        onError: (error, { run }) => this.#internalError(`background loop, run ${run}`, undefined, error),
      }).finally(() => link.unlink()),
    );
    const stop = (): void => controller.abort(new CancelledError('the loop was stopped'));
    return { stop, [Symbol.dispose]: stop };
  }

  /** Runs that failed for good, oldest first. */
  async deadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]> {
    assertOptions(query, 'query');
    return this.#store.listDeadLetters(query);
  }

  /**
   * Runs a dead letter again with the same inputs (the letter is removed). Resolves once the run is
   * queued; its outcome arrives like any run's.
   */
  async replayDeadLetter(id: string): Promise<void> {
    this.#assertOpen();
    if (typeof id !== 'string') throw new TypeError(`dead letter id must be a string, got ${describe(id)}`);
    const letter = await this.#store.takeDeadLetter(id);
    if (letter === undefined) throw new RangeError(`no dead letter with id ${id}`);
    const agent = this.#agents.get(letter.run.agent);
    const subscription = agent?.spec.subscriptions[letter.run.subscription];
    if (agent === undefined || subscription === undefined) {
      await this.#store.addDeadLetter(letter);
      throw new RangeError(`dead letter ${id} belongs to agent '${letter.run.agent}', which is not on this board`);
    }
    const wf = this.#workflowFor(letter.run.correlationId, true);
    if (wf.state === 'cancelled') throw new CancelledError(`workflow ${wf.id} was cancelled`);
    const inputs = await this.#load(letter.run.inputIds);
    wf.publishing++;
    this.#publishing++;
    try {
      while (this.#full(agent)) await this.#waitForSpace(agent);
      await this.#enqueue(agent, subscription, inputs, wf, letter.id);
    } finally {
      wf.publishing--;
      this.#publishing--;
      this.#settled(wf);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Observation and lifetime

  /**
   * The event stream: published, scheduled, started, retrying, finished, failed, cancelled, skipped,
   * blocked and idle events, as an async iterable. Each subscriber buffers at most `bufferSize`
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
    return this.#events.subscribe(options);
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
    const runtime = this.#agents.get(agent);
    if (runtime === undefined) throw new RangeError(`no agent named ${describe(agent)} on this board`);
    assertInteger(n, 'maxConcurrency', { min: 1 });
    runtime.permits.permits = n;
  }

  /** Per-agent counters (queued, running, done, failed, cancelled, retries) and the number of artifacts published. */
  stats(): BoardStats {
    const agents: Record<string, AgentStats> = {};
    for (const [name, a] of this.#agents) {
      agents[name] = {
        queued: a.queued,
        running: a.running,
        done: a.done,
        failed: a.failed,
        cancelled: a.cancelled,
        retries: a.retries,
        maxConcurrency: a.permits.permits,
      };
    }
    return { published: this.#published, idle: this.#isIdle(), agents };
  }

  /** The current time as ISO 8601, formatted once per millisecond (a flood publishes many per millisecond). */
  #isoNow(): string {
    const now = Date.now();
    if (now !== this.#lastMs) {
      this.#lastMs = now;
      this.#lastIso = new Date(now).toISOString();
    }
    return this.#lastIso;
  }

  #assertOpen(): void {
    if (this.#closed) throw new BoardClosedError();
  }

  /** Starts `task` in the board's root scope. The board's tasks handle their own errors; none fails the scope. */
  #spawn(task: () => Promise<unknown>): void {
    this.#scope.spawn(() => task().then(noop, noop)).then(noop, noop);
  }

  /**
   * Shuts the board down: no more publishes, queued runs are cancelled, running runs aborted (they end
   * as cancelled), timers cleared, and it resolves once everything it started has settled (runs that
   * ignore their signal get the grace period, then are reported as stragglers). Then agents'
   * `terminate` hooks run, event streams end and the store is closed. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#close();
    return this.#shutdown;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    const reason = new CancelledError('the board is shutting down');
    this.#scope.cancel(reason);
    for (const wf of this.#workflows.values()) if (wf.running > 0 || wf.controller !== undefined) (wf.controller ??= new AbortController()).abort(reason);
    for (const agent of this.#agents.values()) {
      for (let waiter = agent.spaceWaiters.shift(); waiter !== undefined; waiter = agent.spaceWaiters.shift()) waiter.fail(new BoardClosedError());
    }
    for (const key of [...this.#timers.keys()]) this.#disarm(key);
    for (const entry of this.#deferred) {
      clearTimeout(entry.timer);
      this.#timerCount--;
      const wf = this.#workflows.get(entry.correlationId);
      if (wf !== undefined) wf.timers--;
    }
    this.#deferred.clear();
    for (const waiter of this.#idleWaiters) waiter.reject(new BoardClosedError());
    for (const wf of this.#workflows.values()) for (const waiter of wf.waiters) waiter.reject(new BoardClosedError());
    try {
      for (const run of await this.#store.cancelQueuedRuns()) {
        const agent = this.#agents.get(run.agent);
        const wf = this.#workflowFor(run.correlationId, true);
        this.#contexts.delete(run.id);
        if (agent === undefined) continue;
        this.#dequeued(agent, wf, 1);
        await this.#cancelled(agent, run, reason);
      }
    } catch {
      // The store failed; runs still settle below.
    }
    try {
      // Waits for every run, pump and timer handler; those that ignore their signal get the grace period.
      await this.#scope.join();
    } catch {
      // The board's tasks handle their own errors; a cancelled scope has nothing more to report.
    }
    for (const agent of this.#agents.values()) {
      if (!agent.initialized) continue;
      const info: AgentInfo = { name: agent.spec.name, signal: this.#scope.signal };
      for (const hooks of agent.spec.hooks) {
        if (hooks.terminate === undefined) continue;
        try {
          await hooks.terminate(info);
        } catch {
          // One agent's failing teardown must not stop the others'.
        }
      }
    }
    this.#events.close();
    await this.#store.close?.();
  }
}
