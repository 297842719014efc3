/**
 * The agent builder: how a user declares what an agent consumes, what it publishes, under which
 * limits and policies it runs, and what it does. `handle(fn)` ends the declaration and registers the
 * agent with its board.
 */
import { assertDuration, assertFunction, assertInteger, assertOptions, describe } from '../core/validate.js';
import {
  assertArtifactType,
  checkTags,
  checkVisibility,
  type AnyArtifactType,
  type Artifact,
  type Draft,
  type InputOf,
  type PayloadOf,
} from './artifact.js';
import type { AgentContext } from './context.js';
import { all, toCondition, type Condition, type ConditionView } from './conditions.js';
import { sortByPriority, type AgentHooks } from './hooks.js';
import type { Policy } from '../resilience/policy.js';
import { retryPolicy } from '../resilience/retry-policy.js';
import type { RetryPolicyOptions } from '../resilience/retry.js';
import { embargoEnd, type Visibility } from './visibility.js';
import { Schedule, type ScheduleOptions } from './schedule.js';
import type { TimerTickPayload } from './builtins.js';

type Awaitable<T> = T | Promise<T>;

/**
 * Batching: the agent receives up to `size` artifacts at once, flushed when full or `timeoutMs` after the first arrived.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Line = artifactType('Line', z.string());
 * await using board = new Board();
 * board.agent('summarize').consumes(Line, { batch: { size: 16, timeoutMs: 200 } }).handle((lines) => { console.log(lines.length); });
 * ```
 */
export interface BatchOptions {
  readonly size?: number;
  readonly timeoutMs?: number;
}

/**
 * Joining: artifacts of every listed type with the same key (default: the correlation id), within a
 * time window (`withinMs` of the first), a count window (`withinLast`: only the last N waiting of each
 * type per key), or both (an artifact leaves when either window passes it). An artifact that leaves a
 * window unmatched is reported in a `JoinExpired` fact, never dropped in silence.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const A = artifactType('A', z.object({ doc: z.string() }));
 * const B = artifactType('B', z.object({ doc: z.string() }));
 * await using board = new Board();
 * board.agent('pair').consumes([A, B], { join: { by: (x) => x.payload.doc, withinMs: 5_000 } }).handle(([a, b]) => {});
 * ```
 */
export interface JoinOptions<A = Artifact> {
  readonly by?: (artifact: A) => string;
  /** The time window: an artifact waits at most this long for its partners. */
  readonly withinMs?: number;
  /**
   * The count window: at most this many artifacts of each type wait per key; the next one pushes the
   * oldest out (reported in a `JoinExpired` fact). An integer >= 1.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Bid = artifactType('Bid', z.object({ item: z.string() }));
   * const Ask = artifactType('Ask', z.object({ item: z.string() }));
   * await using board = new Board();
   * board.agent('match').consumes([Bid, Ask], { join: { by: (x) => x.payload.item, withinLast: 3 } }).handle(([bid, ask]) => {});
   * ```
   */
  readonly withinLast?: number;
}

/**
 * Which tags a subscription asks for: an array (every one of them), or `{ all, any }` (every tag of
 * `all` and at least one of `any`).
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Ticket = artifactType('Ticket', z.string());
 * await using board = new Board();
 * board.agent('urgent').consumes(Ticket, { tags: { any: ['p0', 'p1'] } }).handle(() => {});
 * ```
 */
export type TagFilter = readonly string[] | { readonly all?: readonly string[]; readonly any?: readonly string[] };

/**
 * How an agent filters and groups what it consumes.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Order = artifactType('Order', z.object({ total: z.number() }));
 * await using board = new Board();
 * board.agent('vip').consumes(Order, { where: (o) => o.payload.total > 1_000, from: 'external', tags: ['paid'] }).handle(() => {});
 * ```
 */
export interface ConsumeOptions<A = Artifact> {
  /** Only artifacts for which this returns true. */
  readonly where?: (artifact: A) => boolean;
  /** Only artifacts produced by these agents (`'external'` for `board.publish`). */
  readonly from?: string | readonly string[];
  /** Only artifacts carrying every one of these tags (an array), or `{ all, any }`: every tag of `all` and at least one of `any`. */
  readonly tags?: TagFilter;
  /**
   * Receive artifacts in batches: of one type, or, with `join`, batches of joined groups (the body
   * receives an array of tuples, each in declared order).
   */
  readonly batch?: BatchOptions;
  /** Join several types by key within a window. */
  readonly join?: JoinOptions<A>;
}

/**
 * How an agent publishes a type.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * import { visibility } from 'skein/board';
 * const Idea = artifactType('Idea', z.string());
 * const Step = artifactType('Step', z.string());
 * await using board = new Board();
 * board.agent('planner').consumes(Idea).publishes(Step, { fanOut: 5, visibility: visibility.labels(['internal']), tags: ['plan'] })
 *   .handle(([idea]) => [`research ${idea.payload}`, `write ${idea.payload}`]);
 * ```
 */
export interface PublishOptions {
  /** The default visibility of what it publishes of this type (public unless said). */
  readonly visibility?: Visibility;
  /** The agent returns an array of up to `fanOut` payloads of this type, each published as its own artifact. */
  readonly fanOut?: number;
  /** Tags added to every artifact of this type it publishes. */
  readonly tags?: readonly string[];
  /**
   * An embargo on every artifact of this type it publishes: each becomes visible (to agents and
   * readers) this many milliseconds after it is published. A draft's own `visibleAt` or
   * `visibleAfterMs` replaces it.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Order = artifactType('Order', z.object({ id: z.string() }));
   * const Reminder = artifactType('Reminder', z.object({ id: z.string() }));
   * await using board = new Board();
   * board.agent('remind').consumes(Order).publishes(Reminder, { visibleAfterMs: 3_600_000 }).handle(([o]) => ({ id: o.payload.id }));
   * ```
   */
  readonly visibleAfterMs?: number;
}

/**
 * A value an agent may return or yield: a payload of its (only) published type, or a draft.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const A = artifactType('A', z.string());
 * const B = artifactType('B', z.number());
 * await using board = new Board();
 * board.agent('two').consumes(A).publishes(A).publishes(B).handle(([a]) => [A.draft(a.payload + '!'), B.draft(a.payload.length)]);
 * ```
 */
export type Output<Out> = Out | Draft;
/**
 * What an agent's body may return.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const In = artifactType('In', z.string());
 * const Out = artifactType('Out', z.string());
 * await using board = new Board();
 * board.agent('maybe').consumes(In).publishes(Out).handle(([x]) => (x.payload === '' ? undefined : x.payload.trim()));
 * ```
 */
export type HandlerResult<Out> = void | undefined | Output<Out> | readonly Output<Out>[];

/**
 * An evaluation stage: each engine's output feeds the next.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Q = artifactType('Q', z.string());
 * const A = artifactType('A', z.string());
 * const upper = { name: 'upper', evaluate: (text: string) => text.toUpperCase() };
 * await using board = new Board();
 * board.agent('shout').consumes(Q).publishes(A).engine(([q]) => q.payload).engine(upper).handle();
 * ```
 */
export interface Engine<I, O> {
  readonly name?: string;
  evaluate(input: I, ctx: AgentContext): Awaitable<O>;
}

/**
 * An engine, or a bare function used as one.
 *
 * @example
 * ```ts
 * const tokenize = (text: string) => text.split(/\s+/); // a function is an engine too
 * ```
 */
export type EngineLike<I, O> = Engine<I, O> | ((input: I, ctx: AgentContext) => Awaitable<O>);

/**
 * Scores one evaluation's outputs for `bestOf`: higher is better.
 *
 * @example
 * ```ts
 * import type { Scorer } from 'skein/board';
 * const longest: Scorer = (drafts) => JSON.stringify(drafts[0]?.payload ?? '').length;
 * ```
 */
export type Scorer = (outputs: readonly Draft[], ctx: AgentContext) => Awaitable<number>;

/**
 * Options of `bestOf`.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Q = artifactType('Q', z.string());
 * const A = artifactType('A', z.string());
 * await using board = new Board();
 * board.agent('judge').consumes(Q).publishes(A).bestOf(3, (d) => String(d[0]?.payload).length, { deadlineMs: 2_000 }).handle(([q]) => q.payload);
 * ```
 */
export interface BestOfOptions {
  /** When this passes, evaluations still running are aborted and the best finished one is kept. */
  readonly deadlineMs?: number;
}

/** One `consumes` declaration, checked and frozen. */
export interface Subscription {
  readonly index: number;
  readonly types: readonly AnyArtifactType[];
  readonly where: ((artifact: Artifact) => boolean) | undefined;
  readonly from: ReadonlySet<string> | undefined;
  /** Tags an artifact must all carry. */
  readonly tags: readonly string[];
  /** Tags of which an artifact must carry at least one; undefined: no such condition. */
  readonly anyTags: readonly string[] | undefined;
  readonly batch: { readonly size: number; readonly timeoutMs: number | undefined } | undefined;
  readonly join:
    | { readonly by: ((artifact: Artifact) => string) | undefined; readonly withinMs: number | undefined; readonly withinLast: number | undefined }
    | undefined;
}

export interface PublishSpec {
  readonly type: AnyArtifactType;
  readonly visibility: Visibility;
  readonly fanOut: number | undefined;
  readonly tags: readonly string[];
  /** The embargo on what it publishes of this type; undefined: visible at once. */
  readonly visibleAfterMs: number | undefined;
}

export type Stage = (input: unknown, ctx: AgentContext) => unknown;

/** An agent as the board runs it. */
export interface AgentSpec {
  readonly name: string;
  readonly subscriptions: readonly Subscription[];
  readonly publishes: ReadonlyMap<string, PublishSpec>;
  readonly maxConcurrency: number;
  readonly queueCapacity: number | undefined;
  readonly maxRunsPerWorkflow: number | undefined;
  readonly bestOf: { readonly n: number; readonly score: Scorer; readonly deadlineMs: number | undefined } | undefined;
  readonly policy: Policy<unknown> | undefined;
  readonly timeoutMs: number | undefined;
  /** Engines, then the body; the last one's result is the output. */
  readonly stages: readonly { readonly name: string; readonly run: Stage }[];
  readonly hooks: readonly AgentHooks[];
  readonly labels: ReadonlySet<string>;
  readonly tenant: string | undefined;
  readonly allowSelfTrigger: boolean;
  /** One artifact may trigger one run per matching subscription (default: one run per agent). */
  readonly triggerPerSubscription: boolean;
  /** The activation condition: a run whose condition does not hold when it is to start is skipped. */
  readonly when?: Condition | undefined;
  /** When the agent runs by itself (`.schedule()`); its runs' input is the tick. */
  readonly schedule?: Schedule | undefined;
}

type InputsOf<T, O> = O extends { readonly batch: object }
  ? T extends AnyArtifactType
    ? Artifact<PayloadOf<T>>[]
    : T extends readonly AnyArtifactType[]
      ? { -readonly [K in keyof T]: Artifact<PayloadOf<T[K]>> }[]
      : never
  : T extends readonly AnyArtifactType[]
    ? { -readonly [K in keyof T]: Artifact<PayloadOf<T[K]>> }
    : [Artifact<PayloadOf<T>>];

type ArtifactOf<T> = T extends readonly AnyArtifactType[] ? Artifact<PayloadOf<T[number]>> : Artifact<PayloadOf<T>>;

const CONSUME_KEYS = new Set(['where', 'from', 'tags', 'batch', 'join']);
const JOIN_KEYS = new Set(['by', 'withinMs', 'withinLast']);
const TAG_FILTER_KEYS = new Set(['all', 'any']);

/** A subscription's tag conditions from `consumes`' `tags` option, checked. */
function tagFilter(value: unknown): { tags: readonly string[]; anyTags: readonly string[] | undefined } {
  if (value === undefined || Array.isArray(value)) return { tags: checkTags(value, 'consumes tags'), anyTags: undefined };
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`consumes tags must be an array of strings or { all, any }, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!TAG_FILTER_KEYS.has(key)) throw new TypeError(`unknown consumes tags option '${key}' (allowed: all, any)`);
  }
  const filter = value as { all?: unknown; any?: unknown };
  const anyTags = filter.any === undefined ? undefined : checkTags(filter.any, 'consumes tags.any');
  if (anyTags !== undefined && anyTags.length === 0) throw new RangeError('consumes tags.any must name at least one tag (an empty set matches nothing)');
  return { tags: checkTags(filter.all, 'consumes tags.all'), anyTags };
}

/**
 * Declares an agent, fluently. Made by `board.agent(name)`; `handle(fn)` registers it.
 *
 * `In` is what the body receives (a union when there are several `consumes`), `Cur` what the next
 * stage receives (changed by each `engine`), `Out` the payloads it may publish (as its types accept them: schema input).
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Idea = artifactType('Idea', z.object({ topic: z.string() }));
 * const Pizza = artifactType('Pizza', z.object({ name: z.string() }));
 * await using board = new Board();
 * board.agent('chef')
 *   .consumes(Idea)
 *   .publishes(Pizza)
 *   .maxConcurrency(4)
 *   .handle(async ([idea]) => ({ name: idea.payload.topic }));
 * ```
 */
export class AgentBuilder<In = never, Cur = In, Out = never> {
  readonly #name: string;
  readonly #register: (spec: AgentSpec) => void;
  readonly #subscriptions: Subscription[] = [];
  readonly #publishes = new Map<string, PublishSpec>();
  readonly #engines: { name: string; run: Stage }[] = [];
  readonly #hooks: AgentHooks[] = [];
  readonly #labels = new Set<string>();
  #maxConcurrency = 1;
  #queueCapacity: number | undefined;
  #maxRuns: number | undefined;
  #bestOf: AgentSpec['bestOf'];
  #policy: Policy<unknown> | undefined;
  #timeoutMs: number | undefined;
  #tenant: string | undefined;
  #allowSelf = false;
  #perSubscription = false;
  #when: Condition[] = [];
  #schedule: Schedule | undefined;
  #sealed = false;

  /** @internal Made by `board.agent(name)`. */
  constructor(name: string, register: (spec: AgentSpec) => void) {
    this.#name = name;
    this.#register = register;
  }

  #open(method: string): void {
    if (this.#sealed) throw new Error(`agent '${this.#name}' is already registered; ${method}() must come before handle()`);
  }

  /**
   * Subscribes to one type, or to several at once (an AND gate: the agent runs when one of each has
   * arrived in the same workflow, or under the same join key). Several `consumes` calls are alternatives.
   */
  consumes<const T extends AnyArtifactType | readonly AnyArtifactType[], const O extends ConsumeOptions<ArtifactOf<T>> = ConsumeOptions<ArtifactOf<T>>>(
    types: T,
    options?: O,
  ): AgentBuilder<In | InputsOf<T, O>, In | InputsOf<T, O>, Out> {
    this.#open('consumes');
    const list: readonly unknown[] = Array.isArray(types) ? (types as readonly unknown[]) : [types];
    if (list.length === 0) throw new RangeError(`agent '${this.#name}': consumes needs at least one artifact type`);
    list.forEach((type, i) => assertArtifactType(type, `agent '${this.#name}': consumes type ${i}`));
    assertOptions(options, 'consumes options');
    for (const key of Object.keys(options ?? {})) {
      if (!CONSUME_KEYS.has(key)) throw new TypeError(`agent '${this.#name}': unknown consumes option '${key}' (allowed: ${[...CONSUME_KEYS].join(', ')})`);
    }
    const o = (options ?? {}) as ConsumeOptions;
    if (o.where !== undefined) assertFunction(o.where, 'consumes where');
    let from: Set<string> | undefined;
    if (o.from !== undefined) {
      const names: unknown[] = typeof o.from === 'string' ? [o.from] : Array.isArray(o.from) ? (o.from as unknown[]) : [o.from];
      if (names.length === 0 || names.some((n) => typeof n !== 'string')) {
        throw new TypeError(`consumes from must be an agent name or an array of them, got ${describe(o.from)}`);
      }
      from = new Set(names as string[]);
    }
    let batch: Subscription['batch'];
    if (o.batch !== undefined) {
      assertOptions(o.batch, 'consumes batch');
      if (list.length !== 1 && o.join === undefined) {
        throw new TypeError(`agent '${this.#name}': batch consumes exactly one type, or joins several (join and batch together), got ${list.length}`);
      }
      if (o.batch.size === undefined && o.batch.timeoutMs === undefined) {
        throw new TypeError('consumes batch needs a size, a timeoutMs, or both');
      }
      if (o.batch.size !== undefined) assertInteger(o.batch.size, 'batch size', { min: 1 });
      if (o.batch.timeoutMs !== undefined) assertDuration(o.batch.timeoutMs, 'batch timeoutMs');
      batch = { size: o.batch.size ?? Infinity, timeoutMs: o.batch.timeoutMs };
    }
    let join: Subscription['join'];
    if (o.join !== undefined) {
      assertOptions(o.join, 'consumes join');
      if (list.length < 2) throw new TypeError(`agent '${this.#name}': a join needs at least two types`);
      for (const key of Object.keys(o.join)) {
        if (!JOIN_KEYS.has(key)) throw new TypeError(`agent '${this.#name}': unknown join option '${key}' (allowed: ${[...JOIN_KEYS].join(', ')})`);
      }
      if (o.join.by !== undefined) assertFunction(o.join.by, 'join by');
      if (o.join.withinMs === undefined && o.join.withinLast === undefined) {
        throw new TypeError(`agent '${this.#name}': a join needs a window: withinMs (time), withinLast (count), or both`);
      }
      if (o.join.withinMs !== undefined) assertDuration(o.join.withinMs, 'join withinMs');
      if (o.join.withinLast !== undefined) assertInteger(o.join.withinLast, 'join withinLast', { min: 1 });
      join = { by: o.join.by, withinMs: o.join.withinMs, withinLast: o.join.withinLast };
    }
    this.#subscriptions.push(
      Object.freeze({
        index: this.#subscriptions.length,
        types: Object.freeze([...(list as AnyArtifactType[])]),
        where: o.where,
        from,
        ...tagFilter(o.tags),
        batch,
        join,
      }),
    );
    return this as never;
  }

  /** Declares a type this agent publishes (and may only publish what it declares). */
  publishes<T extends AnyArtifactType>(type: T, options?: PublishOptions): AgentBuilder<In, Cur, Out | InputOf<T>> {
    this.#open('publishes');
    assertArtifactType(type, `agent '${this.#name}': publishes type`);
    assertOptions(options, 'publishes options');
    if (options?.fanOut !== undefined) assertInteger(options.fanOut, 'fanOut', { min: 1, allowInfinity: true });
    embargoEnd({ visibleAfterMs: options?.visibleAfterMs }, 0); // checks it
    this.#publishes.set(type.name, {
      type,
      visibility: checkVisibility(options?.visibility, 'publishes visibility'),
      fanOut: options?.fanOut,
      tags: checkTags(options?.tags, 'publishes tags'),
      visibleAfterMs: options?.visibleAfterMs,
    });
    return this;
  }

  /** At most `n` runs of this agent at once (default 1). */
  maxConcurrency(n: number): this {
    this.#open('maxConcurrency');
    assertInteger(n, 'maxConcurrency', { min: 1 });
    this.#maxConcurrency = n;
    return this;
  }

  /** At most `n` runs waiting in this agent's queue; beyond it publishers wait (default: the board's `queueCapacity`). */
  queueCapacity(n: number): this {
    this.#open('queueCapacity');
    assertInteger(n, 'queueCapacity', { min: 1 });
    this.#queueCapacity = n;
    return this;
  }

  /** At most `n` runs of this agent per workflow (default: the board's `maxRunsPerWorkflow`); past it, `LoopDetected` is published. */
  maxRuns(n: number): this {
    this.#open('maxRuns');
    assertInteger(n, 'maxRuns', { min: 1 });
    this.#maxRuns = n;
    return this;
  }

  /** Lets this agent be triggered by its own outputs (off by default: a loop guard). */
  allowSelfTrigger(allow = true): this {
    this.#open('allowSelfTrigger');
    this.#allowSelf = allow;
    return this;
  }

  /**
   * Lets one artifact trigger this agent once per `consumes` it matches. By default an artifact
   * triggers an agent at most once, through the first `consumes` (in declaration order) it matches.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Event = artifactType('Event', z.object({ urgent: z.boolean(), audited: z.boolean() }));
   * await using board = new Board();
   * board.agent('router').consumes(Event, { where: (e) => e.payload.urgent }).consumes(Event, { where: (e) => e.payload.audited })
   *   .triggerPerSubscription().handle((_inputs, ctx) => console.log(ctx.runId));
   * ```
   */
  triggerPerSubscription(allow = true): this {
    this.#open('triggerPerSubscription');
    this.#perSubscription = allow;
    return this;
  }

  /**
   * An activation condition: each run of this agent starts only if `condition` holds over the board
   * at that moment, asked with the run's workflow as the view's (so `artifactCount(Review, 3)` counts
   * the reviews of the run's workflow). A run whose condition does not hold is **skipped and
   * recorded**, not held: it ends without executing (no body, no hooks, no outputs), a `skipped`
   * event names the condition, `stats().agents[name].skipped` counts it, and its inputs are not
   * offered again; a later artifact that triggers the agent is asked afresh. (Blackboard agents react
   * to arrivals: "act on the review that makes three" is one run on the third review, where holding
   * every earlier trigger would run the agent three times once the third arrived.) A condition that
   * throws skips the run and reports an `error` event. Several `when` calls must all hold.
   *
   * @example
   * ```ts
   * import { Board, artifactType, artifactCount } from 'skein/board';
   * import { z } from 'zod';
   * const Review = artifactType('Review', z.object({ stars: z.number() }));
   * const Verdict = artifactType('Verdict', z.object({ mean: z.number() }));
   * await using board = new Board();
   * board.agent('judge').consumes(Review).publishes(Verdict).when(artifactCount(Review, 3))
   *   .handle(async (_inputs, ctx) => {
   *     const reviews = await ctx.board.list({ type: Review, correlationId: ctx.correlationId });
   *     return { mean: reviews.reduce((sum, r) => sum + r.payload.stars, 0) / reviews.length };
   *   });
   * ```
   */
  when(condition: Condition | ((view: ConditionView) => boolean | Promise<boolean>)): this {
    this.#open('when');
    this.#when.push(toCondition(condition, `agent '${this.#name}': when condition`));
    return this;
  }

  /**
   * Runs the agent on a schedule as well as (or instead of) on what it consumes: each tick is a
   * `TimerTick` artifact that runs this agent alone, and `ctx.timer` tells the run its tick number
   * and scheduled time. The timer lives in the store, so a restarted board neither repeats nor loses
   * a tick (`missed` says what happens to slots that passed while no board ran), and boards sharing
   * a store fire each tick once. Timers are not work for `runUntilIdle`: a tick is, from the moment
   * it is due until its run ends. See {@link ScheduleOptions}.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Heartbeat = artifactType('Heartbeat', z.object({ tick: z.number(), scheduledAt: z.string() }));
   * await using board = new Board();
   * board.agent('heartbeat').schedule({ every: 60_000, maxRepeats: 10 }).publishes(Heartbeat)
   *   .handle((_inputs, ctx) => ({ tick: ctx.timer!.tick, scheduledAt: ctx.timer!.scheduledAt }));
   * ```
   */
  schedule(options: ScheduleOptions): AgentBuilder<In | [Artifact<TimerTickPayload>], In | [Artifact<TimerTickPayload>], Out> {
    this.#open('schedule');
    if (this.#schedule !== undefined) throw new TypeError(`agent '${this.#name}' already has a schedule; an agent has one`);
    this.#schedule = Schedule.from(options);
    return this as never;
  }

  /** Labels this agent carries, for `visibility.labels(...)`. */
  labels(...labels: string[]): this {
    this.#open('labels');
    for (const label of checkTags(labels, 'labels')) this.#labels.add(label);
    return this;
  }

  /** The tenant this agent belongs to, for `visibility.tenant(...)`. */
  tenant(name: string): this {
    this.#open('tenant');
    if (typeof name !== 'string' || name === '') throw new TypeError(`tenant must be a non-empty string, got ${describe(name)}`);
    this.#tenant = name;
    return this;
  }

  /**
   * Runs `n` evaluations of each run in parallel and keeps the outputs that `score` rates highest.
   * With `deadlineMs`, evaluations still running when it passes are aborted and the best finished
   * one wins.
   */
  bestOf(n: number, score: Scorer, options?: BestOfOptions): this {
    this.#open('bestOf');
    assertInteger(n, 'bestOf n', { min: 1 });
    assertFunction(score, 'bestOf score');
    assertOptions(options, 'bestOf options');
    if (options?.deadlineMs !== undefined) assertDuration(options.deadlineMs, 'bestOf deadlineMs');
    this.#bestOf = { n, score, deadlineMs: options?.deadlineMs };
    return this;
  }

  /**
   * Runs each run's attempts under a resilience policy: retry options (given to skein's
   * `retryPolicy`, with its defaults: 3 attempts, exponential backoff with full jitter), or any
   * policy (`retryPolicy(...)`, `wrap(retryPolicy(...), breaker)`, a `CircuitBreaker`...). Cancellation
   * is never retried. A `fallback` layer's value is published as the run's output.
   *
   * @example
   * ```ts
   * import { Board, artifactType } from 'skein/board';
   * import { constant, retryPolicy, wrap, CircuitBreaker, consecutive } from 'skein';
   * import { z } from 'zod';
   * const Url = artifactType('Url', z.string());
   * await using board = new Board();
   * board.agent('a').consumes(Url).retry({ maxAttempts: 5, backoff: constant(100) }).handle(() => {});
   * const breaker = new CircuitBreaker({ policy: consecutive(5), openMs: 10_000 });
   * board.agent('b').consumes(Url).retry(wrap(retryPolicy({ maxAttempts: 3 }), breaker)).handle(() => {});
   * ```
   */
  retry(policy: Policy<unknown> | RetryPolicyOptions): this {
    this.#open('retry');
    assertOptions(policy, 'retry policy');
    this.#policy = typeof (policy as Partial<Policy<unknown>>).execute === 'function' ? (policy as Policy<unknown>) : retryPolicy(policy as RetryPolicyOptions);
    return this;
  }

  /** Each attempt must finish within `ms`; past it its signal aborts and the attempt fails with a `TimeoutError`. */
  timeout(ms: number): this {
    this.#open('timeout');
    assertDuration(ms, 'timeout ms');
    this.#timeoutMs = ms;
    return this;
  }

  /** Adds an evaluation stage: it receives the previous stage's output (the inputs, for the first). */
  engine<O>(engine: EngineLike<Cur, O>): AgentBuilder<In, O, Out> {
    this.#open('engine');
    if (typeof engine === 'function') {
      this.#engines.push({ name: engine.name || `engine${this.#engines.length}`, run: engine as Stage });
    } else {
      if (typeof engine !== 'object' || engine === null || typeof engine.evaluate !== 'function') {
        throw new TypeError(`engine must be a function or an object with evaluate(input, ctx), got ${describe(engine)}`);
      }
      this.#engines.push({ name: engine.name ?? `engine${this.#engines.length}`, run: (input, ctx) => engine.evaluate(input as Cur, ctx) });
    }
    return this as never;
  }

  /** Adds lifecycle hooks (see {@link AgentHooks}); bundles run in ascending priority. */
  use(hooks: AgentHooks): this {
    this.#open('use');
    assertOptions(hooks, 'hooks');
    for (const [key, value] of Object.entries(hooks)) {
      if (key === 'name' || key === 'priority') continue;
      assertFunction(value, `hook ${key}`);
    }
    if (hooks.priority !== undefined && (typeof hooks.priority !== 'number' || Number.isNaN(hooks.priority))) {
      throw new TypeError(`hook priority must be a number, got ${describe(hooks.priority)}`);
    }
    this.#hooks.push(hooks);
    return this;
  }

  /**
   * Sets the agent's body and registers the agent. The body receives the inputs (or the last engine's
   * output) and the context; it returns payloads to publish, or is an async generator whose every
   * yield is published at once. Without a body, the last engine's output is published.
   */
  handle(body?: (input: Cur, ctx: AgentContext) => Awaitable<HandlerResult<Out>> | AsyncIterable<Output<Out>>): void {
    this.#open('handle');
    if (body !== undefined) assertFunction(body, 'handle body');
    if (this.#subscriptions.length === 0 && this.#schedule === undefined) {
      throw new TypeError(`agent '${this.#name}' consumes nothing: call consumes(Type) or schedule(options) before handle()`);
    }
    const stages = [...this.#engines];
    if (body !== undefined) stages.push({ name: 'handle', run: body as Stage });
    if (stages.length === 0) throw new TypeError(`agent '${this.#name}' has neither engines nor a body`);
    this.#sealed = true;
    this.#register(
      Object.freeze({
        name: this.#name,
        subscriptions: Object.freeze([...this.#subscriptions]),
        publishes: new Map(this.#publishes),
        maxConcurrency: this.#maxConcurrency,
        queueCapacity: this.#queueCapacity,
        maxRunsPerWorkflow: this.#maxRuns,
        bestOf: this.#bestOf,
        policy: this.#policy,
        timeoutMs: this.#timeoutMs,
        stages: Object.freeze(stages),
        hooks: Object.freeze(sortByPriority(this.#hooks)),
        labels: new Set(this.#labels),
        tenant: this.#tenant,
        allowSelfTrigger: this.#allowSelf,
        triggerPerSubscription: this.#perSubscription,
        when: this.#when.length === 0 ? undefined : this.#when.length === 1 ? this.#when[0] : all(...this.#when),
        schedule: this.#schedule,
      }),
    );
  }
}

/**
 * What an agent's first stage receives for a run of `subscription`: its inputs as they are, or, for a
 * join feeding a batch, grouped into the joined tuples (each in declared order). Typed as the flat
 * list because stages take their input as unknown.
 */
export function bodyInputs(spec: AgentSpec, subscription: number, inputs: readonly Artifact[]): readonly Artifact[] {
  const declared = spec.subscriptions[subscription];
  if (declared?.batch === undefined || declared.join === undefined) return inputs;
  const width = declared.types.length;
  const groups: Artifact[][] = [];
  for (let i = 0; i < inputs.length; i += width) groups.push(inputs.slice(i, i + width));
  return groups as unknown as readonly Artifact[];
}
