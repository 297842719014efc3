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
 * - **Admission control.** With `maxActiveWorkflows`, a start waits (FIFO on this board, abortable,
 *   bounded by its `timeoutMs`) until fewer admitted workflows are active in the whole store (see
 *   `admission.ts`); a waiting start has stored nothing and holds only its arguments, so a service can
 *   accept requests faster than it finishes them without its board, store or queues growing.
 * - **Lookup by id.** `board.workflowRun(id)` finds a started workflow by its stored input, from any
 *   board of the store; `run.status()` asks the store what became of it.
 */
import { createHash } from 'node:crypto';
import { isThenable } from '../core/task.js';
import { Admission } from './admission.js';
import { assertArtifactType, type AnyArtifactType, type Artifact, type DraftOptions, type PayloadOf } from './artifact.js';
import { AgentFailed, JoinExpired, LoopDetected } from './builtins.js';
import { CancelledError } from '../core/errors.js';
import { WORK_ENDS, type Condition } from './conditions.js';
import { BoardClosedError } from './errors.js';
import { runUntil } from './run-until.js';
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

/**
 * What became of a started workflow ({@link WorkflowRun.status}).
 *
 * @example
 * ```ts
 * import type { WorkflowStatus } from 'skein/board';
 * const done = (status: WorkflowStatus) => status === 'completed' || status === 'failed' || status === 'cancelled';
 * ```
 */
export type WorkflowStatus = 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

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
  /** The first artifact of each required type as last looked up, `undefined` where none was. */
  #found: (Artifact | undefined)[] | undefined;

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
   * Resolves as soon as the workflow has produced every required type, with the first artifact of
   * each, in the order of `requires`: the workflow may still be working then (its later artifacts,
   * of those types too, change nothing here; `run.workflow.done()` waits for the rest, and its place
   * under `maxActiveWorkflows` is held until then). Rejects once the workflow is done without one of
   * them with a {@link WorkflowFailedError} (its `facts` say why); requiring nothing, waits until the
   * workflow is done and rejects if it has a failure fact. Rejects with a `CancelledError` when the
   * workflow was cancelled before producing them; with a `TimeoutError` or the signal's reason when the
   * wait ends first (the workflow goes on). Event-driven: asked again after a publish of a required
   * type into the workflow and after its runs end (sharing the store, also after each poll and notice).
   */
  async result(options?: WaitOptions): Promise<WorkflowOutputs<R>> {
    const ctx = this.#host.ctx;
    const id = this.id;
    const names = this.#requires.map((type) => type.name);
    let outputs: Artifact[] | undefined;
    const settled: Condition = {
      description: names.length === 0 ? `workflow ${id} done` : `workflow ${id} has ${names.join(', ')} or is done`,
      holds: async (view) => {
        if (names.length > 0 && (outputs = await this.#outputs()) !== undefined) return true;
        return ctx.workflows.state(id) === 'cancelled' || view.workflowDone(id);
      },
      wakesOn: (event) =>
        event.kind === 'published' ? event.correlationId === id && names.includes(event.type) : WORK_ENDS.has(event.kind) && (!('correlationId' in event) || event.correlationId === id),
    };
    await runUntil(ctx, settled, options);
    if (outputs !== undefined) return outputs as WorkflowOutputs<R>;
    if (ctx.workflows.state(id) === 'cancelled' || (await ctx.store.getWorkflowState(id)) === 'cancelled') throw new CancelledError(`workflow ${id} was cancelled`);
    // Done: its last runs may have published the outputs after the condition looked for them.
    if (names.length > 0 && (outputs = await this.#outputs()) !== undefined) return outputs as WorkflowOutputs<R>;
    const missing = names.length === 0 ? [] : names.filter((_, i) => this.#found?.[i] === undefined);
    const facts = await this.#facts();
    if (missing.length > 0 || facts.length > 0) throw new WorkflowFailedError(id, facts, missing);
    return [] as unknown as WorkflowOutputs<R>;
  }

  /**
   * What became of the workflow, asked of the store (so any board of it, in any process, answers the
   * same): `'completed'` once every required type was produced (requiring nothing: done without a
   * failure fact); `'failed'` when it is done without them (or, requiring nothing, with a failure
   * fact); `'cancelled'` when cancelled before completing; `'paused'` or `'running'` while it has work.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { Board, artifactType } from 'skein/board';
   * import { z } from 'zod';
   * const Question = artifactType('Question', z.string());
   * const Answer = artifactType('Answer', z.string());
   * await using board = new Board();
   * board.agent('oracle').consumes(Question).publishes(Answer).handle(([q]) => `yes, ${q.payload}`);
   * const run = await board.start(Question, 'ok?', { id: 'q-1', requires: [Answer] });
   * await run.result();
   * assert.equal(await run.status(), 'completed');
   * ```
   */
  async status(): Promise<WorkflowStatus> {
    const ctx = this.#host.ctx;
    if (this.#requires.length > 0 && (await this.#outputs()) !== undefined) return 'completed';
    const state = await ctx.store.getWorkflowState(this.id);
    if (state === 'cancelled') return 'cancelled';
    const pending = await ctx.store.pending({ correlationId: this.id });
    const wf = ctx.workflows.get(this.id);
    if (pending.queued + pending.paused + pending.running + pending.timedGates > 0 || (wf !== undefined && ctx.workflows.busy(wf))) return state === 'paused' ? 'paused' : 'running';
    if (this.#requires.length > 0) return 'failed';
    return (await this.#facts()).length > 0 ? 'failed' : 'completed';
  }

  /** The first artifact of each required type, or undefined while one is missing. */
  async #outputs(): Promise<Artifact[] | undefined> {
    const store = this.#host.ctx.store;
    const found: (Artifact | undefined)[] = [];
    for (const type of this.#requires) {
      const [first] = await store.list({ type: type.name, correlationId: this.id, limit: 1 });
      found.push(first);
    }
    this.#found = found;
    return found.every((artifact) => artifact !== undefined) ? found : undefined;
  }

  /** The workflow's failure facts, in publication order. */
  async #facts(): Promise<Artifact[]> {
    const store = this.#host.ctx.store;
    const facts: Artifact[] = [];
    for (const type of FAILURE_FACTS) facts.push(...(await store.list({ type: type.name, correlationId: this.id })));
    return facts.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
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

  constructor(ctx: Pipeline, workflow: (id: string) => Workflow, publish: PublishInput, maxActiveWorkflows: number | undefined) {
    this.#ctx = ctx;
    this.#host = { ctx, workflow };
    this.#publish = publish;
    this.admission = maxActiveWorkflows === undefined ? undefined : new Admission(ctx, maxActiveWorkflows);
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

  /** The handle of workflow `id` if it was started (by any board of the store), from its stored input. */
  async find<R extends readonly AnyArtifactType[]>(id: string, requires: R): Promise<WorkflowRun<R> | undefined> {
    const input = await this.#find(inputIdOf(id));
    return input === undefined ? undefined : new WorkflowRun(this.#host, id, input, requires, false);
  }

  async #start(type: AnyArtifactType, payload: unknown, options: StartOptions, id: string): Promise<{ input: Artifact; created: boolean }> {
    const inputId = inputIdOf(id);
    const existing = await this.#find(inputId);
    if (existing !== undefined) return { input: checkSameStart(id, existing, type), created: false };
    const admission = this.admission;
    if (admission !== undefined) await admission.admit(id, inputId, options.signal, options.timeoutMs);
    let input: Artifact;
    try {
      input = await this.#publish(type, payload, options, id, inputId);
    } catch (error) {
      // Another board (or process) stored this workflow's input first: the store refused the second.
      const winner = await this.#find(inputId).catch(() => undefined);
      if (winner !== undefined) return { input: checkSameStart(id, winner, type), created: false };
      if (admission !== undefined) await admission.giveBack(id);
      throw error;
    }
    admission?.started(id);
    return { input, created: true };
  }

  async #find(inputId: string): Promise<Artifact | undefined> {
    const found = this.#ctx.store.getArtifacts([inputId]);
    return (isThenable(found) ? await found : found)[0];
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
  checkRequires(options.requires, 'start');
}

function checkRequires(requires: unknown, where: string): void {
  if (requires === undefined) return;
  if (!Array.isArray(requires)) throw new TypeError(`${where} requires must be an array of artifact types`);
  requires.forEach((required, i) => assertArtifactType(required, `${where} requires[${i}]`));
}

/** Checks the arguments of `board.workflowRun()`. */
export function checkWorkflowRun(id: unknown, options: { readonly requires?: unknown } | undefined): void {
  if (typeof id !== 'string' || id === '') throw new TypeError(`workflowRun id must be a non-empty string, got ${String(id)}`);
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new TypeError(`workflowRun options must be an object or undefined, got ${String(options)}`);
  for (const key of Object.keys(options)) if (key !== 'requires') throw new TypeError(`workflowRun has no option '${key}'; its only option is requires`);
  checkRequires(options.requires, 'workflowRun');
}
