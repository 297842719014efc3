/**
 * A work queue: tasks wait in priority order (first-in first-out within a priority) and at most
 * `concurrency` of them run at once. The waiting line can be bounded (`maxSize`), so producers get
 * backpressure, either as a {@link QueueFullError} or as an `add` that waits for room.
 */
import { CancelledError } from '../core/errors.js';
import { FailFast, validateGrace, type GraceOptions } from '../core/grace.js';
import { ListenerList, type Subscription } from '../core/event.js';
import { AbortFanout, neverAbortedSignal } from '../core/signal.js';
import { isThenable, type Task } from '../core/task.js';
import { assertFunction, assertInteger, assertKnownOptions, assertOptions, assertPriority, assertSignal, describe } from '../core/validate.js';
import { runHeld } from './held.js';
import { WaitQueue, type Waiter } from './wait-queue.js';

/**
 * `add` on a {@link TaskQueue} whose waiting line is at `maxSize`, when the queue or the call says
 * `whenFull: 'reject'` (the default).
 *
 * @example
 * ```ts
 * import { TaskQueue, QueueFullError } from 'skein';
 * const queue = new TaskQueue({ concurrency: 1, maxSize: 0 });
 * const running = queue.add(() => new Promise((resolve) => setTimeout(resolve, 5)));
 * await queue.add(() => 1).catch((error) => console.log(error instanceof QueueFullError)); // true
 * await running;
 * ```
 */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';

  constructor(message = 'the queue is full', options?: ErrorOptions) {
    super(message, options);
  }
}

/** What `add` does when the waiting line is full: reject with {@link QueueFullError}, or wait for room. */
export type WhenFull = 'reject' | 'wait';

/** Options for a {@link TaskQueue}. */
export interface TaskQueueOptions extends GraceOptions {
  /** How many tasks run at once: an integer >= 1 or `Infinity` (default 1). */
  readonly concurrency?: number;
  /** How many tasks may wait (those running do not count): an integer >= 0 or `Infinity` (the default). */
  readonly maxSize?: number;
  /** What `add` does when `maxSize` tasks wait (default `'reject'`). */
  readonly whenFull?: WhenFull;
  /** Start paused: tasks queue up until `resume()`. */
  readonly paused?: boolean;
}

/** Options for {@link TaskQueue.add}. */
export interface AddOptions {
  /** Higher runs first (default 0); equal priorities run in the order they were added. */
  readonly priority?: number;
  /**
   * Aborting it while the task waits rejects `add` with its reason and removes the task; while the
   * task runs, the task's signal aborts and `add` rejects with the reason once the task settles.
   */
  readonly signal?: AbortSignal;
  /** Overrides the queue's `whenFull` for this call. */
  readonly whenFull?: WhenFull;
  /**
   * Names the task for {@link TaskQueue.setPriority} and in events. Without it, a task gets a
   * generated id (`'1'`, `'2'`, ...) when anyone listens to the queue's events; otherwise none.
   * Two waiting tasks cannot share an id.
   */
  readonly id?: string;
}

/** What the task events of a {@link TaskQueue} say about their task. */
export interface TaskInfo {
  /** The `id` given to `add`, or one the queue generated. */
  readonly id: string;
  /** Its priority when the event fired. */
  readonly priority: number;
}

/**
 * The events of a {@link TaskQueue} and their listeners' arguments, named as in p-queue.
 *
 * - `add`: a task was queued (or started at once); `addAll` fires it once per task.
 * - `active`: a task is being called (its slot is taken).
 * - `completed`: a task fulfilled, with its value. `error`: a task threw or rejected, with the error
 *   (the promise `add` returned rejects too: handle both).
 * - `next`: a task that had started has settled (after `completed` or `error`), or a waiting task
 *   left without running (aborted, cleared, its batch failed).
 * - `empty`: the waiting line became empty (tasks may still run).
 * - `pendingZero`: the number of running tasks became 0 (tasks may still wait, e.g. while paused).
 * - `idle`: nothing waits and nothing runs any more; never fires if no task was ever added.
 *
 * `empty`, `pendingZero` and `idle` fire on the change, once each time the state is reached.
 */
export interface TaskQueueEvents {
  add: [task: TaskInfo];
  active: [task: TaskInfo];
  completed: [result: unknown, task: TaskInfo];
  error: [error: unknown, task: TaskInfo];
  next: [task: TaskInfo];
  empty: [];
  pendingZero: [];
  idle: [];
}

/** The name of an event of a {@link TaskQueue}. */
export type TaskQueueEventName = keyof TaskQueueEvents;

/** Options for {@link TaskQueue.on}. */
export interface TaskQueueListenerOptions {
  /** Aborting it removes the listener. */
  readonly signal?: AbortSignal;
}

const EVENT_NAMES: readonly TaskQueueEventName[] = ['add', 'active', 'completed', 'error', 'next', 'empty', 'pendingZero', 'idle'];

/** Options for the waits {@link TaskQueue.onIdle}, {@link TaskQueue.onEmpty}, {@link TaskQueue.onSizeLessThan}. */
export interface QueueWaitOptions {
  readonly signal?: AbortSignal;
}

const QUEUE_OPTIONS = ['concurrency', 'maxSize', 'whenFull', 'paused', 'graceMs', 'onStraggler'] as const;
const ADD_OPTIONS = ['priority', 'signal', 'whenFull', 'id'] as const;
const ADD_ALL_OPTIONS = ['priority', 'signal'] as const;

const WAITING_FOR_ROOM = 0;
const QUEUED = 1;

/** One task added with `add` while it waits. */
class Entry implements Waiter {
  done = false;
  readonly batch = false;
  readonly task: Task<unknown>;
  /** Mutable only while it waits for room (outside the waiting line): see `setPriority`. */
  priority: number;
  readonly signal: AbortSignal | undefined;
  /** Given by the caller, or generated when someone listened at `add`; undefined otherwise. */
  id: string | undefined = undefined;
  /** Which add this was: the generated id, when one is needed later. */
  seq = 0;
  where: typeof WAITING_FOR_ROOM | typeof QUEUED;
  /** Resolves the gate with this entry: the task's turn has come. */
  open: (entry: Entry) => void = noop;
  refuse: (reason: unknown) => void = noop;
  cleanup: () => void = noop;

  constructor(task: Task<unknown>, priority: number, signal: AbortSignal | undefined, where: typeof WAITING_FOR_ROOM | typeof QUEUED) {
    this.task = task;
    this.priority = priority;
    this.signal = signal;
    this.where = where;
  }
}

interface Level {
  readonly priority: number;
  readonly entries: WaitQueue<Entry | Batch>;
}

/** Options for {@link TaskQueue.addAll}. */
export interface AddAllOptions {
  /** The priority of every task of the batch (default 0). */
  readonly priority?: number;
  /** Aborting it removes the batch's waiting tasks, aborts its running ones, and rejects with its reason. */
  readonly signal?: AbortSignal;
}

/**
 * The tasks of one `addAll` call: they wait as one entry of the waiting line (so adding N tasks
 * costs one entry, not N promises) and run in order, in the async context of the `addAll` call.
 */
class Batch implements Waiter {
  readonly batch = true;
  done = false;
  readonly tasks: readonly Task<unknown>[];
  readonly results: unknown[];
  readonly priority: number;
  readonly controller = new AbortController();
  /** Next task to hand a slot to; tasks below it have a slot. */
  next = 0;
  /** Next task to call; tasks from `started` to `next` have a slot but are not called yet. */
  started = 0;
  running = 0;
  finished = 0;
  /** Set when the batch fails: the stop, its grace period and the suppressed errors. */
  stop: FailFast | undefined;
  gateOpen = false;
  open: () => void = noop;
  resolve: (results: unknown[]) => void = noop;
  reject: (reason: unknown) => void = noop;
  removeListener: () => void = noop;
  settled = false;
  /** True while `#startBatchTasks` runs: slots reserved meanwhile are taken up by its loop. */
  starting = false;
  /** The generated id of task `i` is `firstSeq + i`. */
  firstSeq = 0;

  constructor(tasks: readonly Task<unknown>[], priority: number) {
    this.tasks = tasks;
    this.results = new Array<unknown>(tasks.length);
    this.priority = priority;
  }

  get waiting(): number {
    return this.stop === undefined ? this.tasks.length - this.next : 0;
  }
}

interface Condition extends Waiter {
  /** Resolve when the waiting line is shorter than this, and (for idle) nothing runs. */
  readonly below: number;
  readonly idle: boolean;
  resolve: () => void;
  reject: (reason: unknown) => void;
  cleanup: () => void;
}

const noop = (): void => {};

/**
 * Runs tasks with bounded concurrency, in priority order. `add(task)` resolves with the task's
 * result; a running task keeps its slot until it has settled. `pause()`/`resume()` stop and restart
 * dispatching; `onIdle()`, `onEmpty()` and `onSizeLessThan(n)` let producers wait; `clear()` rejects
 * every waiting task with a `CancelledError`. A queued task runs in the async context
 * (`AsyncLocalStorage`) of the code that added it.
 *
 * @example
 * ```ts
 * import { TaskQueue, sleep } from 'skein';
 * const queue = new TaskQueue({ concurrency: 2 });
 * const order: string[] = [];
 * const jobs = ['a', 'b', 'c'].map((name) => queue.add(async (signal) => {
 *   await sleep(1, { signal });
 *   order.push(name);
 *   return name.toUpperCase();
 * }));
 * const urgent = queue.add(() => { order.push('urgent'); }, { priority: 10 });
 * console.log(await Promise.all(jobs)); // ['A', 'B', 'C']
 * await urgent;
 * await queue.onIdle();
 * console.log(order.indexOf('urgent') < order.indexOf('c')); // true: it jumped ahead of 'c'
 * ```
 */
export class TaskQueue {
  #concurrency: number;
  readonly #maxSize: number;
  readonly #whenFull: WhenFull;
  readonly #grace: GraceOptions | undefined;
  #paused: boolean;
  #running = 0;
  #size = 0;
  /** Waiting lines by priority, highest first; the common single-priority case is one level. */
  #levels: Level[] = [];
  /** One abort listener per signal for all this queue's waits (see AbortFanout). */
  readonly #fanout = new AbortFanout();
  readonly #roomWaiters = new WaitQueue<Entry>(this.#fanout);
  readonly #conditions = new WaitQueue<Condition>(this.#fanout);
  /**
   * Upper bounds over the waiting conditions, so that a task's end checks them in O(1): the largest
   * `below`, and whether any waits for less than idle. Stale values (a waiter aborted) only cost one
   * scan, which recomputes them.
   */
  #conditionsBelow = 0;
  #conditionsNotIdle = false;
  /** Numbers the adds, for the ids generated when needed. */
  #seq = 0;
  /** Waiting tasks that have an id, by id (for `setPriority`). */
  readonly #byId = new Map<string, Entry>();
  /** The listeners by event; undefined while nobody listens, so that an unobserved queue pays one check. */
  #events: Map<TaskQueueEventName, ListenerList<never[]>> | undefined;
  /** The state the last `empty`/`pendingZero`/`idle` check saw, so that each fires on the change. */
  #wasEmpty = true;
  #wasZero = true;
  #wasIdle = true;
  readonly #release = (): void => {
    this.#running--;
    if (this.#size > 0 || this.#roomWaiters.size > 0) {
      this.#dispatch(undefined);
    } else {
      if (this.#conditions.size > 0) this.#checkConditions();
      if (this.#events !== undefined) this.#notify();
    }
  };
  /** The executor of every gate (it takes its entry from `#opening`), so an add allocates no closure. */
  #opening: Entry | undefined;
  readonly #makeGate = (open: (entry: Entry) => void, refuse: (reason: unknown) => void): void => {
    const entry = this.#opening!;
    this.#opening = undefined;
    entry.open = open;
    entry.refuse = refuse;
  };
  readonly #runEntry = (entry: Entry): Promise<unknown> =>
    this.#events === undefined ? this.#execute(entry.task, entry.signal) : this.#executeObserved(entry.task, entry.signal, infoOf(entry));
  readonly #passValue = (value: unknown): unknown => {
    this.#release();
    return value;
  };
  readonly #passError = (error: unknown): never => {
    this.#release();
    throw error;
  };

  constructor(options?: TaskQueueOptions) {
    assertOptions(options);
    assertKnownOptions(options, QUEUE_OPTIONS, 'TaskQueue');
    const concurrency = options?.concurrency ?? 1;
    assertInteger(concurrency, 'concurrency', { min: 1, allowInfinity: true });
    const maxSize = options?.maxSize ?? Infinity;
    assertInteger(maxSize, 'maxSize', { min: 0, allowInfinity: true });
    const whenFull = options?.whenFull ?? 'reject';
    assertWhenFull(whenFull);
    validateGrace(options);
    if (options?.paused !== undefined && typeof options.paused !== 'boolean') {
      throw new TypeError(`paused must be a boolean, got ${describe(options.paused)}`);
    }
    this.#concurrency = concurrency;
    this.#maxSize = maxSize;
    this.#whenFull = whenFull;
    this.#paused = options?.paused ?? false;
    this.#grace = options;
  }

  /** How many tasks wait to run (not counting those waiting for room). */
  get size(): number {
    return this.#size;
  }

  /** How many tasks are running. */
  get running(): number {
    return this.#running;
  }

  /** True between `pause()` and `resume()`. */
  get isPaused(): boolean {
    return this.#paused;
  }

  /** How many tasks run at once. Raising it starts waiting tasks at once; lowering it lets running ones finish. */
  get concurrency(): number {
    return this.#concurrency;
  }

  set concurrency(value: number) {
    assertInteger(value, 'concurrency', { min: 1, allowInfinity: true });
    this.#concurrency = value;
    this.#dispatch(undefined);
  }

  /**
   * Queues `task` and resolves with its result (or rejects with its error). The task starts at once
   * if a slot is free and nothing waits, otherwise when its turn comes, in the async context of
   * this call. See {@link AddOptions} for priority, abort and what happens when the queue is full.
   *
   * @example
   * ```ts
   * import { TaskQueue } from 'skein';
   * const queue = new TaskQueue({ concurrency: 4 });
   * const controller = new AbortController();
   * const answer = await queue.add(async (signal) => (signal.aborted ? 0 : 42), { signal: controller.signal });
   * console.log(answer); // 42
   * ```
   */
  add<T>(task: Task<T>, options?: AddOptions): Promise<T> {
    assertFunction(task, 'task');
    let signal: AbortSignal | undefined;
    let priority = 0;
    let whenFull = this.#whenFull;
    let id: string | undefined;
    if (options !== undefined) {
      assertOptions(options);
      assertKnownOptions(options, ADD_OPTIONS, 'TaskQueue.add');
      signal = options.signal;
      assertSignal(signal);
      if (options.priority !== undefined) priority = assertPriority(options.priority);
      if (options.whenFull !== undefined) {
        whenFull = options.whenFull;
        assertWhenFull(whenFull);
      }
      if (options.id !== undefined) {
        id = options.id;
        if (typeof id !== 'string') throw new TypeError(`id must be a string, got ${describe(id)}`);
      }
      if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    }
    if (this.#size === 0 && !this.#paused && this.#running < this.#concurrency) {
      this.#running++;
      if (this.#events === undefined) return this.#execute(task, signal);
      const info: TaskInfo = { id: id ?? String(++this.#seq), priority };
      this.#emit('add', info);
      this.#notify();
      return this.#executeObserved(task, signal, info);
    }
    const full = this.#size >= this.#maxSize || this.#roomWaiters.size > 0;
    if (full && whenFull === 'reject') {
      return Promise.reject(new QueueFullError(`the queue is full: ${this.#size} tasks wait (maxSize ${this.#maxSize})`));
    }
    if (id !== undefined && this.#byId.has(id)) {
      return Promise.reject(new TypeError(`a waiting task already has the id ${JSON.stringify(id)}`));
    }
    const entry = new Entry(task, priority, signal, full ? WAITING_FOR_ROOM : QUEUED);
    entry.seq = ++this.#seq;
    if (id === undefined && this.#events !== undefined) {
      // A generated id never takes over one a caller gave to a task that waits.
      const generated = String(entry.seq);
      if (!this.#byId.has(generated)) id = generated;
    }
    if (id !== undefined) {
      entry.id = id;
      this.#byId.set(id, entry);
    }
    this.#opening = entry;
    const gate = new Promise<Entry>(this.#makeGate);
    if (signal !== undefined) entry.cleanup = this.#fanout.add(signal, () => this.#leave(entry, signal.reason));
    if (full) this.#roomWaiters.push(entry);
    else this.#enqueue(entry);
    if (this.#events !== undefined) {
      this.#emit('add', infoOf(entry));
      this.#notify();
    }
    // Registered now, so the task runs in the async context of this call, not of whoever frees the
    // slot. The gate resolves with its entry, so one handler serves every task: no closure per add.
    return gate.then(this.#runEntry) as Promise<T>;
  }

  /**
   * Queues every task of `tasks` as one batch and resolves with their results, in order. The
   * tasks run in order (at the batch's priority) as slots free up, in the async context of this
   * call. It costs one queue entry and one promise for the whole batch, so it is the fast way to
   * queue many tasks. Fail-fast, like {@link map}: the first failure removes the batch's waiting
   * tasks, aborts its running ones, and rejects once they have settled. The batch needs room for
   * all its waiting tasks: past `maxSize` it rejects with {@link QueueFullError} (it never waits).
   *
   * @example
   * ```ts
   * import { TaskQueue } from 'skein';
   * const queue = new TaskQueue({ concurrency: 8 });
   * const squares = await queue.addAll([1, 2, 3].map((n) => async () => n * n));
   * console.log(squares); // [1, 4, 9]
   * ```
   */
  addAll<T>(tasks: readonly Task<T>[], options?: AddAllOptions): Promise<T[]> {
    if (!Array.isArray(tasks)) throw new TypeError(`tasks must be an array of functions, got ${describe(tasks)}`);
    for (let i = 0; i < tasks.length; i++) assertFunction(tasks[i], `tasks[${i}]`);
    assertOptions(options);
    assertKnownOptions(options, ADD_ALL_OPTIONS, 'TaskQueue.addAll');
    const signal = options?.signal;
    assertSignal(signal);
    const priority = assertPriority(options?.priority ?? 0);
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    const count = tasks.length;
    if (count === 0) return Promise.resolve([]);
    const free = this.#size === 0 && !this.#paused ? Math.max(0, this.#concurrency - this.#running) : 0;
    const startNow = Math.min(count, free);
    const waiting = count - startNow;
    if (waiting > 0 && (this.#size + waiting > this.#maxSize || this.#roomWaiters.size > 0)) {
      return Promise.reject(
        new QueueFullError(`the queue has no room for ${waiting} more tasks: ${this.#size} wait (maxSize ${this.#maxSize})`),
      );
    }
    const batch = new Batch(tasks as readonly Task<unknown>[], priority);
    const promise = new Promise<unknown[]>((resolve, reject) => {
      batch.resolve = resolve;
      batch.reject = reject;
    });
    if (signal !== undefined) {
      batch.removeListener = this.#fanout.add(signal, () => this.#stopBatch(batch, signal.reason, signal.reason));
    }
    batch.next = startNow;
    batch.firstSeq = this.#seq + 1;
    this.#seq += count;
    this.#running += startNow;
    if (waiting > 0) {
      this.#arm(batch);
      this.#levelFor(priority).entries.push(batch);
      this.#size += waiting;
    } else {
      batch.done = true;
    }
    if (this.#events !== undefined) {
      for (let i = 0; i < count; i++) this.#emit('add', batchInfo(batch, i));
      this.#notify();
    }
    if (startNow > 0) this.#startBatchTasks(batch);
    return promise as Promise<T[]>;
  }

  /** Stops starting tasks; running ones go on. */
  pause(): void {
    this.#paused = true;
  }

  /** Starts tasks again after `pause()`. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#dispatch(undefined);
  }

  /**
   * Rejects every waiting task (and every `add` waiting for room) with a `CancelledError`, and
   * empties the queue. Running tasks go on.
   *
   * @example
   * ```ts
   * import { TaskQueue, CancelledError } from 'skein';
   * const queue = new TaskQueue({ concurrency: 1, paused: true });
   * const waiting = queue.add(() => 'never');
   * queue.clear();
   * await waiting.catch((error) => console.log(error instanceof CancelledError)); // true
   * ```
   */
  clear(): void {
    const reason = new CancelledError('the task was removed from the queue by clear()');
    const levels = this.#levels;
    this.#levels = [];
    for (const level of levels) {
      for (const entry of level.entries.drain()) {
        if (entry.batch) this.#stopBatch(entry, reason, reason);
        else this.#refuse(entry, reason);
      }
    }
    for (const entry of this.#roomWaiters.drain()) this.#refuse(entry, reason);
    this.#size = 0;
    if (this.#conditions.size > 0) this.#checkConditions();
    if (this.#events !== undefined) this.#notify();
  }

  /**
   * Moves the waiting task `id` to `priority`, behind the tasks already waiting at that priority.
   * Returns false (and changes nothing) when no waiting task has that id: it never existed, has
   * started, or left. Unlike p-queue's, it does not throw then, since a task may start at any moment.
   *
   * @example
   * ```ts
   * import { TaskQueue } from 'skein';
   * const queue = new TaskQueue({ concurrency: 1, paused: true });
   * const order: string[] = [];
   * const jobs = ['a', 'b', 'c'].map((id) => queue.add(() => { order.push(id); }, { id }));
   * console.log(queue.setPriority('c', 1), queue.setPriority('gone', 1)); // true false
   * queue.resume();
   * await Promise.all(jobs);
   * console.log(order); // ['c', 'a', 'b']
   * ```
   */
  setPriority(id: string, priority: number): boolean {
    if (typeof id !== 'string') throw new TypeError(`id must be a string, got ${describe(id)}`);
    assertPriority(priority);
    const entry = this.#byId.get(id);
    if (entry === undefined) return false;
    if (entry.priority === priority) return true;
    if (entry.where === WAITING_FOR_ROOM) {
      // Not in the waiting line yet: it enters at its priority when admitted.
      entry.priority = priority;
      return true;
    }
    // The waiting line forgets an entry by marking it done, so the task moves as a new entry.
    const moved = new Entry(entry.task, priority, entry.signal, QUEUED);
    moved.id = id;
    moved.seq = entry.seq;
    moved.open = entry.open;
    moved.refuse = entry.refuse;
    entry.done = true;
    entry.cleanup();
    this.#removeFromLevel(entry);
    const signal = moved.signal;
    if (signal !== undefined) moved.cleanup = this.#fanout.add(signal, () => this.#leave(moved, signal.reason));
    this.#byId.set(id, moved);
    this.#levelFor(priority).entries.push(moved);
    return true;
  }

  /**
   * Calls `listener` on every `name` event (see {@link TaskQueueEvents}) until the returned
   * {@link Subscription} is called (or disposed, or ended by `using`) or `signal` aborts. A listener
   * that throws changes nothing in the queue: it is reported as skein's every event reports one (a
   * process warning, see `Emitter`). Listening costs nothing per task while nobody listens.
   *
   * @example
   * ```ts
   * import { TaskQueue } from 'skein';
   * const queue = new TaskQueue({ concurrency: 2 });
   * const seen: string[] = [];
   * const off = queue.on('completed', (result, task) => seen.push(`${task.id}: ${String(result)}`));
   * queue.on('idle', () => seen.push('idle'));
   * await Promise.all([queue.add(async () => 1, { id: 'one' }), queue.add(async () => 2, { id: 'two' })]);
   * await queue.onIdle();
   * off(); // or off.dispose(), or `using off = queue.on(...)`
   * console.log(seen); // ['one: 1', 'two: 2', 'idle']
   * ```
   */
  on<K extends TaskQueueEventName>(name: K, listener: (...args: TaskQueueEvents[K]) => void, options?: TaskQueueListenerOptions): Subscription {
    if (!EVENT_NAMES.includes(name)) {
      throw new TypeError(`TaskQueue has no event ${describe(name)}; its events are ${EVENT_NAMES.join(', ')}`);
    }
    if (this.#events === undefined) {
      this.#events = new Map();
      // Listening starts from the present state: only changes after it fire.
      this.#wasEmpty = this.#size === 0;
      this.#wasZero = this.#running === 0;
      this.#wasIdle = this.#wasEmpty && this.#wasZero;
    }
    const events = this.#events;
    let listeners = events.get(name) as ListenerList<TaskQueueEvents[K]> | undefined;
    if (listeners === undefined) {
      const list: ListenerList<TaskQueueEvents[K]> = new ListenerList({
        name: `a TaskQueue '${name}'`,
        method: 'TaskQueue.on',
        fanout: this.#fanout,
        onEmpty: () => {
          if ((events.get(name) as unknown) === list) events.delete(name);
          if (events.size === 0 && this.#events === events) this.#events = undefined;
        },
      });
      listeners = list;
    }
    const subscription = listeners.add(listener, options);
    if (listeners.size > 0) events.set(name, listeners as unknown as ListenerList<never[]>);
    else if (events.size === 0) this.#events = undefined;
    return subscription;
  }

  /**
   * Resolves when nothing waits and nothing runs (at once if that is so now).
   *
   * @example
   * ```ts
   * import { TaskQueue, sleep } from 'skein';
   * const queue = new TaskQueue({ concurrency: 2 });
   * for (let i = 0; i < 5; i++) void queue.add(() => sleep(1));
   * await queue.onIdle();
   * console.log(queue.size, queue.running); // 0 0
   * ```
   */
  onIdle(options?: QueueWaitOptions): Promise<void> {
    return this.#when(1, true, options);
  }

  /**
   * Resolves when nothing waits (tasks may still run).
   *
   * @example
   * ```ts
   * import { TaskQueue, sleep } from 'skein';
   * const queue = new TaskQueue({ concurrency: 1 });
   * for (let i = 0; i < 3; i++) void queue.add(() => sleep(1));
   * await queue.onEmpty();
   * console.log(queue.size); // 0
   * await queue.onIdle();
   * ```
   */
  onEmpty(options?: QueueWaitOptions): Promise<void> {
    return this.#when(1, false, options);
  }

  /**
   * Resolves when fewer than `limit` tasks wait: a producer awaits it before adding more, so the
   * queue never holds much more than `limit`.
   *
   * @example
   * ```ts
   * import { TaskQueue, sleep } from 'skein';
   * const queue = new TaskQueue({ concurrency: 2 });
   * for (let i = 0; i < 20; i++) {
   *   await queue.onSizeLessThan(4);
   *   void queue.add(() => sleep(1));
   * }
   * await queue.onIdle();
   * ```
   */
  onSizeLessThan(limit: number, options?: QueueWaitOptions): Promise<void> {
    assertInteger(limit, 'limit', { min: 1 });
    return this.#when(limit, false, options);
  }

  /**
   * Resolves when no task runs (at once if that is so now), whether or not tasks wait: with the
   * queue paused, it is how to let the running tasks drain.
   *
   * @example
   * ```ts
   * import { TaskQueue, sleep } from 'skein';
   * const queue = new TaskQueue({ concurrency: 2 });
   * for (let i = 0; i < 4; i++) void queue.add(() => sleep(1));
   * queue.pause();
   * await queue.onPendingZero();
   * console.log(queue.running, queue.size); // 0 2
   * queue.resume();
   * await queue.onIdle();
   * ```
   */
  onPendingZero(options?: QueueWaitOptions): Promise<void> {
    return this.#when(Infinity, true, options);
  }

  #when(below: number, idle: boolean, options: QueueWaitOptions | undefined): Promise<void> {
    assertOptions(options);
    const signal = options?.signal;
    assertSignal(signal);
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    if (this.#size < below && (!idle || this.#running === 0)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#conditions.pushAbortable({ done: false, below, idle, resolve, reject, cleanup: noop }, signal);
      if (below > this.#conditionsBelow) this.#conditionsBelow = below;
      if (!idle) this.#conditionsNotIdle = true;
    });
  }

  #execute<T>(task: Task<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal === undefined) {
      // The common case, kept lean: one derived promise and two handlers shared by every task.
      let result: T | PromiseLike<T>;
      try {
        result = task(neverAbortedSignal());
      } catch (error) {
        this.#release();
        return Promise.reject(error);
      }
      if (!isThenable(result)) {
        this.#release();
        return Promise.resolve(result);
      }
      return Promise.resolve(result).then(this.#passValue, this.#passError) as Promise<T>;
    }
    if (signal.aborted) {
      this.#release();
      return Promise.reject(signal.reason as unknown);
    }
    return runHeld(task, signal, true, 'TaskQueue', this.#grace, this.#release, this.#fanout);
  }

  /** `#execute` while someone listens: fires `active`, `completed`/`error` and `next` around the task. */
  #executeObserved<T>(task: Task<T>, signal: AbortSignal | undefined, info: TaskInfo): Promise<T> {
    const observed: Task<T> = (taskSignal) => {
      this.#emit('active', info);
      let result: T | PromiseLike<T>;
      try {
        result = task(taskSignal);
      } catch (error) {
        this.#emit('error', error, info);
        throw error;
      }
      if (!isThenable(result)) {
        this.#emit('completed', result, info);
        return result;
      }
      return Promise.resolve(result).then(
        (value) => {
          this.#emit('completed', value, info);
          return value;
        },
        (error: unknown) => {
          this.#emit('error', error, info);
          throw error;
        },
      );
    };
    const release = (): void => {
      this.#release();
      this.#emit('next', info);
    };
    if (signal === undefined) return runHeld(observed, neverAbortedSignal(), false, 'TaskQueue', this.#grace, release);
    return runHeld(observed, signal, true, 'TaskQueue', this.#grace, release, this.#fanout);
  }

  /** Calls the listeners of `name`; one that throws is reported and the others still run. */
  #emit<K extends TaskQueueEventName>(name: K, ...args: TaskQueueEvents[K]): void {
    (this.#events?.get(name) as unknown as ListenerList<TaskQueueEvents[K]> | undefined)?.emit(...args);
  }


  /** Fires `empty`, `pendingZero` and `idle` for the states reached since the last check. */
  #notify(): void {
    const empty = this.#size === 0;
    if (empty !== this.#wasEmpty) {
      this.#wasEmpty = empty;
      if (empty) this.#emit('empty');
    }
    const zero = this.#running === 0;
    if (zero !== this.#wasZero) {
      this.#wasZero = zero;
      if (zero) this.#emit('pendingZero');
    }
    // Read again: a listener above may have added work.
    const idle = this.#size === 0 && this.#running === 0;
    if (idle !== this.#wasIdle) {
      this.#wasIdle = idle;
      if (idle) this.#emit('idle');
    }
  }

  /** Registers, in the batch's own context, the reaction that starts its tasks when woken from elsewhere. */
  #arm(batch: Batch): void {
    void new Promise<void>((open) => (batch.open = open)).then(() => {
      batch.gateOpen = false;
      if (batch.waiting > 0) this.#arm(batch);
      this.#startBatchTasks(batch);
    });
  }

  /** Calls the batch's tasks that have a slot; runs in the batch's context. */
  #startBatchTasks(batch: Batch): void {
    if (batch.starting) return;
    batch.starting = true;
    const signal = batch.controller.signal;
    try {
      while (batch.started < batch.next) {
        if (batch.stop !== undefined) {
          // Slots handed to tasks that will never be called go back to the queue.
          this.#running -= batch.next - batch.started;
          batch.started = batch.next;
          this.#dispatch(undefined);
          break;
        }
        const index = batch.started++;
        batch.running++;
        if (this.#events !== undefined) this.#emit('active', batchInfo(batch, index));
        let result: unknown;
        try {
          result = batch.tasks[index]!(signal);
        } catch (error) {
          this.#batchTaskDone(batch, index, false, error);
          continue;
        }
        if (isThenable(result)) {
          result.then(
            (value) => this.#batchTaskDone(batch, index, true, value),
            (error: unknown) => this.#batchTaskDone(batch, index, false, error),
          );
        } else {
          this.#batchTaskDone(batch, index, true, result);
        }
      }
    } finally {
      batch.starting = false;
    }
  }

  #batchTaskDone(batch: Batch, index: number, ok: boolean, outcome: unknown): void {
    const info = this.#events === undefined ? undefined : batchInfo(batch, index);
    if (info !== undefined) {
      if (ok) this.#emit('completed', outcome, info);
      else this.#emit('error', outcome, info);
    }
    batch.running--;
    batch.finished++;
    this.#running--;
    const failure = batch.stop;
    if (failure === undefined) {
      if (ok) batch.results[index] = outcome;
      else this.#stopBatch(batch, outcome, new CancelledError('addAll stopped: another task of the batch failed', { cause: outcome }));
    } else if (!ok) {
      failure.absorb(outcome);
    }
    if (this.#size > 0 || this.#roomWaiters.size > 0) this.#dispatch(batch);
    else if (this.#conditions.size > 0) this.#checkConditions();
    if (info !== undefined) {
      this.#emit('next', info);
      this.#notify();
    }
    this.#settleBatch(batch);
  }

  /** Fails the batch: drops its waiting tasks, aborts its running ones, settles once they stopped. */
  #stopBatch(batch: Batch, error: unknown, abortReason: unknown): void {
    if (batch.stop !== undefined || batch.settled) return;
    const waiting = batch.waiting;
    const failure = new FailFast('TaskQueue.addAll', this.#grace);
    batch.stop = failure;
    batch.removeListener();
    if (!batch.done) {
      batch.done = true;
      this.#removeFromLevel(batch);
    }
    this.#size -= waiting;
    if (this.#events !== undefined) {
      for (let i = batch.tasks.length - waiting; i < batch.tasks.length; i++) this.#emit('next', batchInfo(batch, i));
    }
    failure.stop(error, abortReason, batch.controller);
    if (batch.running > 0) {
      failure.wait(
        () => batch.running,
        () => this.#settleBatch(batch, true),
      );
    }
    this.#settleBatch(batch);
    if (this.#conditions.size > 0) this.#checkConditions();
    if (this.#events !== undefined) this.#notify();
  }

  #settleBatch(batch: Batch, force = false): void {
    if (batch.settled) return;
    if (batch.stop !== undefined) {
      if (batch.running > 0 && !force) return;
      batch.settled = true;
      batch.stop.settle();
      batch.reject(batch.stop.failure?.error);
      return;
    }
    if (batch.finished < batch.tasks.length) return;
    batch.settled = true;
    batch.removeListener();
    batch.resolve(batch.results);
  }

  #enqueue(entry: Entry): void {
    entry.where = QUEUED;
    this.#levelFor(entry.priority).entries.push(entry);
    this.#size++;
  }

  #levelFor(priority: number): Level {
    const levels = this.#levels;
    let i = 0;
    for (; i < levels.length; i++) {
      const level = levels[i]!;
      if (level.priority === priority) return level;
      if (level.priority < priority) break;
    }
    const level: Level = { priority, entries: new WaitQueue<Entry>() };
    levels.splice(i, 0, level);
    return level;
  }

  /**
   * Starts waiting tasks while slots are free, and lets tasks waiting for room in. `current` is the
   * batch whose code is running now (its context is the current one), if any: its tasks can be
   * called directly; any other waiting task is started through the promise reaction it registered
   * in its own context.
   */
  #dispatch(current: Batch | undefined): void {
    const levels = this.#levels;
    do {
      while (this.#size > 0 && !this.#paused && this.#running < this.#concurrency) {
        const level = levels[0]!;
        const entry = level.entries.peek();
        if (entry === undefined) {
          levels.shift();
          continue;
        }
        this.#size--;
        this.#running++;
        if (entry.batch) {
          entry.next++;
          if (entry.waiting === 0) {
            this.#shiftLevel(level);
            entry.done = true;
          }
          if (entry === current) this.#startBatchTasks(entry);
          else if (!entry.gateOpen) {
            entry.gateOpen = true;
            entry.open();
          }
          continue;
        }
        this.#shiftLevel(level);
        entry.done = true;
        entry.cleanup();
        if (entry.id !== undefined) this.#byId.delete(entry.id);
        entry.open(entry);
      }
    } while (this.#admit());
    if (this.#conditions.size > 0) this.#checkConditions();
    if (this.#events !== undefined) this.#notify();
  }

  #shiftLevel(level: Level): void {
    level.entries.shift();
    if (level.entries.size === 0 && this.#levels.length > 1) this.#levels.shift();
  }

  /**
   * Moves tasks waiting for room into the waiting line while it has room, or (with `maxSize: 0`)
   * while a slot is free to take them at once. True when any moved.
   */
  #admit(): boolean {
    let admitted = false;
    while (
      this.#roomWaiters.size > 0 &&
      (this.#size < this.#maxSize || (this.#size === 0 && !this.#paused && this.#running < this.#concurrency))
    ) {
      this.#enqueue(this.#roomWaiters.shift()!);
      admitted = true;
    }
    return admitted;
  }

  #leave(entry: Entry, reason: unknown): void {
    if (entry.done) return;
    entry.done = true;
    if (entry.id !== undefined) this.#byId.delete(entry.id);
    if (entry.where === WAITING_FOR_ROOM) {
      this.#roomWaiters.leave(entry);
    } else {
      this.#size--;
      this.#removeFromLevel(entry);
      this.#dispatch(undefined);
    }
    entry.refuse(reason);
    if (this.#events !== undefined) this.#emit('next', infoOf(entry));
  }

  #removeFromLevel(entry: Entry | Batch): void {
    const level = this.#levels.find((candidate) => candidate.priority === entry.priority);
    if (level === undefined) return;
    level.entries.leave(entry);
    if (level.entries.size === 0 && this.#levels.length > 1) this.#levels.splice(this.#levels.indexOf(level), 1);
  }

  #refuse(entry: Entry, reason: unknown): void {
    entry.done = true;
    entry.cleanup();
    if (entry.id !== undefined) this.#byId.delete(entry.id);
    entry.refuse(reason);
    if (this.#events !== undefined) this.#emit('next', infoOf(entry));
  }

  #checkConditions(): void {
    const size = this.#size;
    const idle = this.#running === 0;
    // Most task ends satisfy nobody (a thousand onIdle waiters while tasks still run): say so in O(1).
    if (size >= this.#conditionsBelow || (!idle && !this.#conditionsNotIdle)) return;
    let below = 0;
    let notIdle = false;
    for (const condition of this.#conditions.drain()) {
      if (size < condition.below && (!condition.idle || idle)) {
        condition.done = true;
        condition.cleanup();
        condition.resolve();
      } else {
        this.#conditions.push(condition);
        if (condition.below > below) below = condition.below;
        if (!condition.idle) notIdle = true;
      }
    }
    this.#conditionsBelow = below;
    this.#conditionsNotIdle = notIdle;
  }
}


function infoOf(entry: Entry): TaskInfo {
  return { id: entry.id ?? String(entry.seq), priority: entry.priority };
}

function batchInfo(batch: Batch, index: number): TaskInfo {
  return { id: String(batch.firstSeq + index), priority: batch.priority };
}

function assertWhenFull(value: unknown): asserts value is WhenFull {
  if (value !== 'reject' && value !== 'wait') {
    throw new TypeError(`whenFull must be 'reject' or 'wait', got ${describe(value)}`);
  }
}
