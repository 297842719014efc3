/**
 * Conditions over the board: what `board.runUntil(condition)` waits for and what `.when(condition)`
 * makes an agent's runs depend on. A condition answers whether it holds now (asking the store), and
 * says which board events may change that answer, so that waiting for one is event-driven: it is
 * asked again after such an event, never on a timer.
 */
import { assertFunction, assertInteger, assertOptions, describe } from '../core/validate.js';
import { assertArtifactType, type AnyArtifactType, type Artifact, type PayloadOf } from './artifact.js';
import type { BoardEvent } from './events.js';
import type { BoardStore } from './store/contract.js';

/**
 * What a condition may look at: the store, the workflow it is asked about, and the board's own
 * answers to "is there work left?".
 *
 * @example
 * ```ts
 * import { Board, predicate } from 'skein/board';
 * await using board = new Board();
 * const quiet = predicate(async (view) => (await view.store.list({ limit: 1 })).length === 0 && (await view.idle()));
 * await board.runUntil(quiet, { timeoutMs: 1_000 });
 * ```
 */
export interface ConditionView {
  readonly store: BoardStore;
  /**
   * The workflow the condition is about: the run's in `.when(...)`, undefined in `board.runUntil(...)`
   * (the whole board). Ready-made conditions given no `correlationId` count in this one.
   */
  readonly correlationId: string | undefined;
  /** No run queued (paused workflows aside) or running, no timed gate, no publish in progress, here or (shared) in the store. */
  idle(): Promise<boolean>;
  /** Workflow `id` has nothing queued (paused runs included), running, waiting on a timed gate or being published. */
  workflowDone(id: string): Promise<boolean>;
}

/**
 * A condition over the board. Make one with {@link artifactExists}, {@link artifactCount},
 * {@link workflowDone}, {@link idle}, {@link predicate}, {@link any} or {@link all}.
 *
 * @example
 * ```ts
 * import { Board, artifactType, artifactCount, type Condition } from 'skein/board';
 * import { z } from 'zod';
 * const Review = artifactType('Review', z.object({ stars: z.number() }));
 * const threeReviews: Condition = artifactCount(Review, 3);
 * threeReviews.description; // 'at least 3 Review'
 * ```
 */
export interface Condition {
  /** What it waits for, in words (used in timeout messages and `skipped` events). */
  readonly description: string;
  /** Whether it holds now. */
  holds(view: ConditionView): boolean | Promise<boolean>;
  /** Whether `event` may change the answer: only then is it asked again. */
  wakesOn(event: BoardEvent): boolean;
}

/**
 * Options of the artifact conditions.
 *
 * @example
 * ```ts
 * import { artifactType, artifactExists } from 'skein/board';
 * import { z } from 'zod';
 * const Order = artifactType('Order', z.object({ total: z.number() }));
 * const bigOrder = artifactExists(Order, { correlationId: 'shop-1', where: (order) => order.payload.total > 100 });
 * ```
 */
export interface ArtifactConditionOptions<T = unknown> {
  /** Only artifacts of this workflow (default: the view's: the run's workflow under `.when`, every workflow in `runUntil`). */
  readonly correlationId?: string;
  /** Only artifacts for which this returns true (makes each check read every artifact of the type). */
  readonly where?: (artifact: Artifact<T>) => boolean;
}

const ARTIFACT_KEYS = new Set(['correlationId', 'where']);
/** Board events after which some work may have ended. */
export const WORK_ENDS: ReadonlySet<BoardEvent['kind']> = new Set(['idle', 'finished', 'failed', 'cancelled', 'skipped']);
const ANY_CHANGE: ReadonlySet<BoardEvent['kind']> = new Set(['published', 'idle', 'finished', 'failed', 'cancelled', 'skipped']);

function assertCondition(value: unknown, name: string): asserts value is Condition {
  const c = value as Partial<Condition> | null;
  if (typeof c !== 'object' || c === null || typeof c.holds !== 'function' || typeof c.wakesOn !== 'function' || typeof c.description !== 'string') {
    throw new TypeError(`${name} must be a condition (artifactExists, artifactCount, workflowDone, idle, predicate, any, all), got ${describe(value)}`);
  }
}

/**
 * Turns what a caller passed (a condition, or a bare predicate function) into a condition.
 * @internal
 */
export function toCondition(value: unknown, name = 'condition'): Condition {
  if (typeof value === 'function') return predicate(value as (view: ConditionView) => boolean | Promise<boolean>);
  assertCondition(value, name);
  return value;
}

/**
 * Holds once at least `n` artifacts of `type` are on the board (in one workflow: the given
 * `correlationId`, else the view's), counting those `where` accepts.
 *
 * @example
 * ```ts
 * import { Board, artifactType, artifactCount } from 'skein/board';
 * import { z } from 'zod';
 * const Review = artifactType('Review', z.object({ stars: z.number() }));
 * await using board = new Board();
 * await board.publishMany(Review, [{ stars: 4 }, { stars: 5 }], { correlationId: 'pizza-1' });
 * await board.runUntil(artifactCount(Review, 2, { correlationId: 'pizza-1' }), { timeoutMs: 1_000 });
 * ```
 */
export function artifactCount<const T extends AnyArtifactType>(type: T, n: number, options?: ArtifactConditionOptions<PayloadOf<T>>): Condition {
  assertArtifactType(type, 'artifactCount type');
  assertInteger(n, 'artifactCount n', { min: 1 });
  assertOptions(options, 'artifactCount options');
  for (const key of Object.keys(options ?? {})) {
    if (!ARTIFACT_KEYS.has(key)) throw new TypeError(`artifact condition has no option '${key}'; its options are ${[...ARTIFACT_KEYS].join(', ')}`);
  }
  const fixed = options?.correlationId;
  if (fixed !== undefined && (typeof fixed !== 'string' || fixed === '')) throw new TypeError(`correlationId must be a non-empty string, got ${describe(fixed)}`);
  const where = options?.where as ((artifact: Artifact) => boolean) | undefined;
  if (where !== undefined) assertFunction(where, 'where');
  const name = type.name;
  const scope = fixed === undefined ? '' : ` in workflow ${fixed}`;
  return {
    description: `${n === 1 ? 'an' : `at least ${n}`} ${name}${scope}`,
    async holds(view) {
      const correlationId = fixed ?? view.correlationId;
      // Without a filter the store stops at n; with one, every artifact of the type is read.
      const found = await view.store.list(where === undefined ? { type: name, correlationId, limit: n } : { type: name, correlationId });
      if (where === undefined) return found.length >= n;
      let count = 0;
      for (const artifact of found) if (where(artifact) === true && ++count >= n) return true;
      return false;
    },
    wakesOn: (event) => event.kind === 'published' && event.type === name && (fixed === undefined || event.correlationId === fixed),
  };
}

/**
 * Holds once an artifact of `type` is on the board (see {@link artifactCount}).
 *
 * @example
 * ```ts
 * import { Board, artifactType, artifactExists } from 'skein/board';
 * import { z } from 'zod';
 * const Idea = artifactType('Idea', z.string());
 * const Pizza = artifactType('Pizza', z.string());
 * await using board = new Board();
 * board.agent('chef').consumes(Idea).publishes(Pizza).handle(([idea]) => idea.payload);
 * await board.publish(Idea, 'margherita');
 * await board.runUntil(artifactExists(Pizza), { timeoutMs: 5_000 });
 * ```
 */
export function artifactExists<const T extends AnyArtifactType>(type: T, options?: ArtifactConditionOptions<PayloadOf<T>>): Condition {
  return artifactCount(type, 1, options);
}

/**
 * Holds when workflow `correlationId` has no work left: nothing queued (paused runs included) or
 * running, no batch or join of it waiting on a timer, no publish into it in progress. A cancelled
 * workflow has none once its runs have settled.
 *
 * @example
 * ```ts
 * import { Board, artifactType, workflowDone } from 'skein/board';
 * import { z } from 'zod';
 * const Job = artifactType('Job', z.number());
 * await using board = new Board();
 * board.agent('worker').consumes(Job).handle(() => {});
 * await board.publish(Job, 1, { correlationId: 'batch-1' });
 * await board.runUntil(workflowDone('batch-1'), { timeoutMs: 5_000 });
 * ```
 */
export function workflowDone(correlationId: string): Condition {
  if (typeof correlationId !== 'string' || correlationId === '') throw new TypeError(`correlationId must be a non-empty string, got ${describe(correlationId)}`);
  return {
    description: `workflow ${correlationId} done`,
    holds: (view) => view.workflowDone(correlationId),
    wakesOn: (event) => WORK_ENDS.has(event.kind) && (!('correlationId' in event) || event.correlationId === correlationId),
  };
}

/**
 * Holds when the board has no work left (what `runUntilIdle()` waits for).
 *
 * @example
 * ```ts
 * import { Board, any, idle, artifactType, artifactExists } from 'skein/board';
 * import { z } from 'zod';
 * const Alarm = artifactType('Alarm', z.string());
 * await using board = new Board();
 * await board.runUntil(any(artifactExists(Alarm), idle()), { timeoutMs: 1_000 }); // whichever comes first
 * ```
 */
export function idle(): Condition {
  return {
    description: 'no work left',
    holds: (view) => view.idle(),
    wakesOn: (event) => WORK_ENDS.has(event.kind),
  };
}

/**
 * A condition of your own: `test` is asked at first and again after every board event (a publish, a
 * run's end, idle), so it should be cheap; it may be async and read `view.store`.
 *
 * @example
 * ```ts
 * import { Board, artifactType, predicate } from 'skein/board';
 * import { z } from 'zod';
 * const Bid = artifactType('Bid', z.object({ amount: z.number() }));
 * await using board = new Board();
 * const total = async (view: import('skein/board').ConditionView) => (await view.store.list({ type: Bid })).reduce((sum, bid) => sum + bid.payload.amount, 0);
 * await board.publishMany(Bid, [{ amount: 60 }, { amount: 50 }]);
 * await board.runUntil(predicate(async (view) => (await total(view)) >= 100, 'bids reach 100'), { timeoutMs: 1_000 });
 * ```
 */
export function predicate(test: (view: ConditionView) => boolean | Promise<boolean>, description = test.name === '' ? 'a predicate' : test.name): Condition {
  assertFunction(test, 'predicate test');
  if (typeof description !== 'string') throw new TypeError(`predicate description must be a string, got ${describe(description)}`);
  return { description, holds: test, wakesOn: (event) => ANY_CHANGE.has(event.kind) };
}

function combine(conditions: readonly unknown[], which: 'any' | 'all'): Condition {
  if (conditions.length === 0) throw new RangeError(`${which}() needs at least one condition`);
  const list = conditions.map((c, i) => toCondition(c, `${which}() condition ${i}`));
  return {
    description: `${which} of (${list.map((c) => c.description).join('; ')})`,
    async holds(view) {
      for (const condition of list) {
        const holds = await condition.holds(view);
        if (which === 'any' && holds) return true;
        if (which === 'all' && !holds) return false;
      }
      return which === 'all';
    },
    wakesOn: (event) => list.some((c) => c.wakesOn(event)),
  };
}

/**
 * Holds when at least one of `conditions` does.
 *
 * @example
 * ```ts
 * import { any, artifactType, artifactExists, idle } from 'skein/board';
 * import { z } from 'zod';
 * const Answer = artifactType('Answer', z.string());
 * const answeredOrStuck = any(artifactExists(Answer), idle());
 * ```
 */
export function any(...conditions: readonly (Condition | ((view: ConditionView) => boolean | Promise<boolean>))[]): Condition {
  return combine(conditions, 'any');
}

/**
 * Holds when every one of `conditions` does.
 *
 * @example
 * ```ts
 * import { all, artifactType, artifactExists } from 'skein/board';
 * import { z } from 'zod';
 * const Summary = artifactType('Summary', z.string());
 * const Keywords = artifactType('Keywords', z.array(z.string()));
 * const both = all(artifactExists(Summary), artifactExists(Keywords));
 * ```
 */
export function all(...conditions: readonly (Condition | ((view: ConditionView) => boolean | Promise<boolean>))[]): Condition {
  return combine(conditions, 'all');
}
