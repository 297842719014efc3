/**
 * The application layer: a workflow started as one request and awaited as one result.
 *
 * - `board.start(Input, payload, { id })` publishes the workflow's input and answers a
 *   {@link WorkflowRun} handle; `run.result()` resolves with the outputs the caller declared as
 *   required (`requires`), or rejects with a {@link WorkflowFailedError} carrying the failure facts.
 * - **Idempotent by id, through the store.** The input artifact's id is derived from the workflow id,
 *   and a store refuses an artifact id it already holds, in the same unit that would store it. So the
 *   same id twice is one workflow: on one board (a start in progress is joined), on many boards sharing
 *   a store (the loser of the race finds the winner's input), and after a restart of a durable store.
 * - **Admission control.** With `maxActiveWorkflows`, a start waits (FIFO, abortable, bounded by its
 *   `timeoutMs`) until fewer workflows started by this board are active; a waiting start has stored
 *   nothing and holds only its arguments, so a service can accept requests faster than it finishes
 *   them without its board, store or queues growing.
 */
import { createHash } from 'node:crypto';
import { TimeoutError } from '../core/errors.js';
import { onAbort } from '../core/signal.js';
import { isThenable } from '../core/task.js';
import { assertArtifactType, type AnyArtifactType, type Artifact, type DraftOptions, type PayloadOf } from './artifact.js';
import { AgentFailed, JoinExpired, LoopDetected } from './builtins.js';
import { BoardClosedError } from './errors.js';
import type { Pipeline } from './pipeline/pipeline.js';
import type { Workflow, WaitOptions } from './workflow.js';

/**
 * Options of `board.start()`.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Order = artifactType('Order', z.object({ sku: z.string() }));
 * const Invoice = artifactType('Invoice', z.object({ total: z.number() }));
 * await using board = new Board({ maxActiveWorkflows: 100 });
 * const run = await board.start(Order, { sku: 'a-1' }, { id: 'order-42', requires: [Invoice], timeoutMs: 5_000, signal: AbortSignal.timeout(10_000) });
 * ```
 */
export interface StartOptions<R extends readonly AnyArtifactType[] = readonly AnyArtifactType[]> extends DraftOptions {
  /**
   * The workflow's id (its correlation id). Starting an id that was started before, on this board or
   * any board sharing its store, starts nothing: it answers the existing workflow's handle (with
   * `created: false`). Default: a new id.
   */
  readonly id?: string;
  /** The output types `run.result()` resolves with, one artifact each (the first published of each type). */
  readonly requires?: R;
  /** Stops waiting for admission (nothing is stored); once admitted, the workflow goes on regardless. */
  readonly signal?: AbortSignal;
  /** Waiting for admission longer than this rejects with a `TimeoutError` (nothing is stored). */
  readonly timeoutMs?: number;
}

const START_KEYS = ['id', 'requires', 'signal', 'timeoutMs', 'tags', 'visibility'];

/**
 * What `run.result()` resolves with: one artifact per required type, in the order given.
 *
 * @example
 * ```ts
 * import { artifactType, type WorkflowOutputs } from 'skein/board';
 * import { z } from 'zod';
 * const Invoice = artifactType('Invoice', z.object({ total: z.number() }));
 * type Outputs = WorkflowOutputs<[typeof Invoice]>; // [Artifact<{ total: number }>]
 * ```
 */
export type WorkflowOutputs<R extends readonly AnyArtifactType[]> = { -readonly [K in keyof R]: Artifact<PayloadOf<R[K]>> };

/** The types of the facts a workflow's failure is made of. */
const FAILURE_FACTS: readonly AnyArtifactType[] = [AgentFailed, LoopDetected, JoinExpired] as AnyArtifactType[];

/**
 * A workflow ended without the outputs it requires (or, requiring none, with a failure). `facts`
 * holds the board's failure facts of the workflow (`AgentFailed`, `LoopDetected`, `JoinExpired`, in
 * publication order), `missing` the names of the required types it did not produce.
 *
 * @example
 * ```ts
 * import { Board, WorkflowFailedError, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * const Job = artifactType('Job', z.number());
 * const Done = artifactType('Done', z.number());
 * await using board = new Board();
 * board.agent('worker').consumes(Job).publishes(Done).handle(() => { throw new Error('disk full'); });
 * const run = await board.start(Job, 1, { requires: [Done] });
 * const error = await run.result().catch((e: unknown) => e);
 * if (error instanceof WorkflowFailedError) console.log(error.missing, error.facts[0]?.type); // ['Done'] 'AgentFailed'
 * ```
 */
export class WorkflowFailedError extends Error {
  override readonly name = 'WorkflowFailedError';
  readonly id: string;
  readonly facts: readonly Artifact[];
  readonly missing: readonly string[];

  constructor(id: string, facts: readonly Artifact[], missing: readonly string[]) {
    const first = facts[0];
    const why = first === undefined ? '' : `: ${describeFact(first)}${facts.length > 1 ? ` (and ${facts.length - 1} more)` : ''}`;
    super(`workflow ${id} ${missing.length > 0 ? `ended without ${missing.join(', ')}` : 'failed'}${why}`);
    this.id = id;
    this.facts = facts;
    this.missing = missing;
  }
}

function describeFact(fact: Artifact): string {
  const payload = fact.payload as { agent?: string; error?: { message?: string }; reason?: string; missing?: readonly string[] };
  if (fact.type === AgentFailed.name) return `agent '${payload.agent}' failed: ${payload.error?.message}`;
  if (fact.type === LoopDetected.name) return payload.reason ?? 'a run limit was reached';
  return `a join expired without ${payload.missing?.join(', ')}`;
}

/** What a workflow run handle needs from its board. @internal */
interface RunHost {
  readonly ctx: Pipeline;
  workflow(id: string): Workflow;
}

/**
 * The handle of a workflow started with `board.start()`.
 *
 * @example
 * ```ts
 * import { Board, artifactType } from 'skein/board';
 * import { z } from 'zod';
 * import assert from 'node:assert/strict';
 * const Question = artifactType('Question', z.string());
 * const Answer = artifactType('Answer', z.string());
 * await using board = new Board();
 * board.agent('oracle').consumes(Question).publishes(Answer).handle(([q]) => `yes, ${q.payload}`);
 * const run = await board.start(Question, 'is it on?', { id: 'q-1', requires: [Answer] });
 * const [answer] = await run.result();
 * assert.equal(answer.payload, 'yes, is it on?');
 * assert.equal((await board.start(Question, 'is it on?', { id: 'q-1' })).created, false); // the same workflow
 * ```
 */
export class WorkflowRun<R extends readonly AnyArtifactType[] = readonly AnyArtifactType[]> {
  /** The workflow's id (its correlation id). */
  readonly id: string;
  /** False when the workflow existed before this start (it published nothing). */
  readonly created: boolean;
  /** The workflow's input artifact. */
  readonly input: Artifact;
  readonly #requires: R;
  readonly #host: RunHost;

  /** @internal Made by `board.start()`. */
  constructor(host: RunHost, id: string, input: Artifact, requires: R, created: boolean) {
    this.#host = host;
    this.id = id;
    this.input = input;
    this.#requires = requires;
    this.created = created;
  }

  /** The workflow's handle: its state, `cancel()`, `pause()`, `resume()`, `artifacts()`, `usage()`. */
  get workflow(): Workflow {
    return this.#host.workflow(this.id);
  }

  /**
   * Waits until the workflow is done (nothing queued, running or waiting on a timed gate), then
   * resolves with the first artifact of each required type, in the order of `requires`. Rejects with a
   * {@link WorkflowFailedError} when one is missing (its `facts` say why), or, when nothing is
   * required, when the workflow has a failure fact; with a `CancelledError` when the workflow was
   * cancelled; with a `TimeoutError` or the signal's reason when the wait ends first (the workflow goes on).
   */
  async result(options?: WaitOptions): Promise<WorkflowOutputs<R>> {
    await this.workflow.done(options);
    const store = this.#host.ctx.store;
    const outputs: Artifact[] = [];
    const missing: string[] = [];
    for (const type of this.#requires) {
      const [first] = await store.list({ type: type.name, correlationId: this.id, limit: 1 });
      if (first === undefined) missing.push(type.name);
      else outputs.push(first);
    }
    if (missing.length > 0 || this.#requires.length === 0) {
      const facts: Artifact[] = [];
      for (const type of FAILURE_FACTS) facts.push(...(await store.list({ type: type.name, correlationId: this.id })));
      facts.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
      if (missing.length > 0 || facts.length > 0) throw new WorkflowFailedError(this.id, facts, missing);
    }
    return outputs as WorkflowOutputs<R>;
  }

  /** Cancels the workflow (see `Workflow.cancel`). */
  cancel(reason?: unknown): Promise<void> {
    return this.workflow.cancel(reason);
  }

  /** What the workflow's runs reported with `ctx.reportUsage`, summed (see `Workflow.usage`). */
  usage(): Readonly<Record<string, number>> {
    return this.workflow.usage();
  }
}

/** One start waiting for admission. */
interface Waiter {
  readonly admit: () => void;
  readonly fail: (reason: unknown) => void;
}

/**
 * Admission control: at most `max` workflows started by this board are active; starts beyond it wait
 * in arrival order (no start overtakes one waiting before it), each removable when its signal aborts
 * or its timeout passes. A `Set` keeps arrival order with O(1) removal from anywhere.
 */
export class Admission {
  readonly max: number;
  #active = 0;
  readonly #waiters = new Set<Waiter>();

  constructor(max: number) {
    this.max = max;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  /** Takes a place at once (a workflow found active after a restart), even past `max`. */
  occupy(): void {
    this.#active++;
  }

  /** Resolves once admitted (the place is then the caller's until `release()`). */
  admit(signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    if (this.#waiters.size === 0 && this.#active < this.max) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const leave = (): void => {
        this.#waiters.delete(waiter);
        removeAbort();
        if (timer !== undefined) clearTimeout(timer);
      };
      const waiter: Waiter = {
        admit: () => {
          leave();
          this.#active++;
          resolve();
        },
        fail: (reason) => {
          leave();
          reject(reason);
        },
      };
      const removeAbort = onAbort(signal, () => waiter.fail(signal!.reason));
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => waiter.fail(new TimeoutError(`no room for another workflow after ${timeoutMs} ms (maxActiveWorkflows ${this.max})`)), timeoutMs);
      }
      this.#waiters.add(waiter);
    });
  }

  release(): void {
    this.#active--;
    while (this.#active < this.max) {
      const next = this.#waiters.values().next();
      if (next.done === true) return;
      next.value.admit();
    }
  }

  /** Rejects every waiting start (shutdown). */
  failAll(reason: unknown): void {
    for (const waiter of [...this.#waiters]) waiter.fail(reason);
  }
}

/** The input artifact id of workflow `id`: fixed, so that the store refuses a second input for the same workflow. */
export function inputIdOf(id: string): string {
  return `wf-${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

/** How the board publishes a workflow's input with its fixed id. */
export type PublishInput = (type: AnyArtifactType, payload: unknown, options: StartOptions, id: string, artifactId: string) => Promise<Artifact>;

/** The board's workflow starts: idempotent by id, admitted by {@link Admission}. */
export class Starts {
  readonly #ctx: Pipeline;
  readonly #host: RunHost;
  readonly #publish: PublishInput;
  readonly admission: Admission | undefined;
  /** Starts in progress on this board, by workflow id: a second start of the same id joins the first. */
  readonly #inFlight = new Map<string, Promise<{ input: Artifact; created: boolean }>>();
  #recovered: Promise<void> | undefined;

  constructor(ctx: Pipeline, workflow: (id: string) => Workflow, publish: PublishInput, maxActiveWorkflows: number | undefined) {
    this.#ctx = ctx;
    this.#host = { ctx, workflow };
    this.#publish = publish;
    this.admission = maxActiveWorkflows === undefined ? undefined : new Admission(maxActiveWorkflows);
  }

  async start<R extends readonly AnyArtifactType[]>(type: AnyArtifactType, payload: unknown, options: StartOptions<R> | undefined): Promise<WorkflowRun<R>> {
    const ctx = this.#ctx;
    const id = options?.id ?? ctx.ids.next();
    const requires = (options?.requires ?? []) as unknown as R;
    const joined = this.#inFlight.get(id);
    if (joined !== undefined) {
      const { input } = await joined;
      return new WorkflowRun(this.#host, id, checkSameStart(id, input, type), requires, false);
    }
    const starting = this.#start(type, payload, options ?? {}, id);
    this.#inFlight.set(id, starting);
    try {
      const { input, created } = await starting;
      return new WorkflowRun(this.#host, id, input, requires, created);
    } finally {
      this.#inFlight.delete(id);
    }
  }

  async #start(type: AnyArtifactType, payload: unknown, options: StartOptions, id: string): Promise<{ input: Artifact; created: boolean }> {
    const inputId = inputIdOf(id);
    const existing = await this.#find(inputId);
    if (existing !== undefined) return { input: checkSameStart(id, existing, type), created: false };
    const admission = this.admission;
    if (admission !== undefined) {
      await (this.#recovered ??= this.#recover(admission));
      await admission.admit(options.signal, options.timeoutMs);
    }
    let input: Artifact;
    try {
      input = await this.#publish(type, payload, options, id, inputId);
    } catch (error) {
      admission?.release();
      // Another board (or process) stored this workflow's input first: the store refused the second.
      const winner = await this.#find(inputId).catch(() => undefined);
      if (winner !== undefined) return { input: checkSameStart(id, winner, type), created: false };
      throw error;
    }
    if (admission !== undefined) this.#releaseWhenDone(admission, id);
    return { input, created: true };
  }

  async #find(inputId: string): Promise<Artifact | undefined> {
    const found = this.#ctx.store.getArtifacts([inputId]);
    return (isThenable(found) ? await found : found)[0];
  }

  /** The place is the workflow's until it is done (or cancelled, or the board shuts down). */
  #releaseWhenDone(admission: Admission, id: string): void {
    this.#ctx.workflows.waitDone(id, undefined).then(
      () => admission.release(),
      () => admission.release(),
    );
  }

  /**
   * After a restart, workflows this board's store holds that were started with `start()` and still
   * have runs queued or running take their places first, so that a restart does not let in more
   * than `maxActiveWorkflows` (a board alone on its store; a shared board counts only its own starts).
   */
  async #recover(admission: Admission): Promise<void> {
    const ctx = this.#ctx;
    // Sharing the store, the runs in it are every board's: this board counts only what it starts.
    if (ctx.shared !== undefined) return;
    const listed = ctx.store.listRuns();
    const runs = isThenable(listed) ? await listed : listed;
    const ids = [...new Set(runs.map((run) => run.correlationId))];
    if (ids.length === 0) return;
    const found = ctx.store.getArtifacts(ids.map(inputIdOf));
    const inputs = isThenable(found) ? await found : found;
    ids.forEach((id, i) => {
      if (inputs[i] === undefined || ctx.workflows.state(id) === 'cancelled') return;
      admission.occupy();
      this.#releaseWhenDone(admission, id);
    });
  }

  /** Rejects waiting starts (shutdown). */
  close(): void {
    this.admission?.failAll(new BoardClosedError());
  }
}

/** A start of an existing workflow must name the same input type: anything else is a caller's bug. */
function checkSameStart(id: string, input: Artifact, type: AnyArtifactType): Artifact {
  if (input.type !== type.name) throw new TypeError(`workflow ${id} was started with a ${input.type} input; it cannot be started again with a ${type.name}`);
  return input;
}

/** Checks the arguments of `board.start()`. */
export function checkStart(type: unknown, options: StartOptions | undefined): void {
  assertArtifactType(type, 'start type');
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new TypeError(`start options must be an object or undefined, got ${String(options)}`);
  for (const key of Object.keys(options)) {
    if (!START_KEYS.includes(key)) throw new TypeError(`start has no option '${key}'; its options are ${START_KEYS.join(', ')}`);
  }
  if (options.id !== undefined && (typeof options.id !== 'string' || options.id === '')) throw new TypeError(`start id must be a non-empty string, got ${String(options.id)}`);
  if (options.requires !== undefined) {
    if (!Array.isArray(options.requires)) throw new TypeError('start requires must be an array of artifact types');
    options.requires.forEach((required, i) => assertArtifactType(required, `start requires[${i}]`));
  }
}
