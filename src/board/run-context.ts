/**
 * One run as it executes: its mutable state (a single object per run, not a closure per step) and
 * the context its body, engines and hooks receive. The run's signal is its workflow's, made on first
 * use: most trivial runs never need one, and cancelling a workflow aborts all its runs at once.
 */
import type { Span } from './otel.js';
import { assertArtifactType, type Artifact, type ArtifactType, type Draft, type DraftOptions } from './artifact.js';
import type { AgentContext, BoardReader } from './context.js';
import { leaseControllers, type LiveAgent, type LiveWorkflow } from './pipeline/live.js';
import type { ClaimedRun } from './store/contract.js';
import { describe } from '../core/validate.js';
import type { TimerTickPayload } from './builtins.js';

/** The subscription index of a run a timer started (`consumes` declarations count from 0). */
export const TIMER_SUBSCRIPTION = -1;

export const EMPTY_ARTIFACTS: readonly Artifact[] = Object.freeze([]);

/** A run this board is executing: its mutable state, a single object per run instead of a closure per step. */
export class ActiveRun {
  inputs: readonly Artifact[] = EMPTY_ARTIFACTS;
  attempts = 0;
  lastError: unknown = undefined;
  /** Outputs already applied (yielded, or published through `ctx.publish`). */
  streamed: Artifact[] | undefined = undefined;
  /** The index of the run's next output: outputs are keyed by (run id, index), applied once. */
  nextOutput = 0;
  span: Span | undefined = undefined;
  /** What the run reported using (`ctx.reportUsage`), summed; made on the first report. */
  usage: Record<string, number> | undefined = undefined;
  readonly startedAt = Date.now();
  /** Where this run's yields and `ctx.publish` calls go, when not to its completion (`board.invoke`). */
  host: RunHost | undefined = undefined;

  /** What guards this run's units in the store. */
  readonly claim: { readonly runId: string; readonly owner: string; readonly attempt: number };

  constructor(
    readonly agent: LiveAgent,
    readonly run: ClaimedRun,
    readonly wf: LiveWorkflow,
  ) {
    this.claim = { runId: run.id, owner: run.owner, attempt: run.attempt };
  }

  /**
   * The run's signal: its workflow's, made on first use (most trivial runs never need one). On a
   * board sharing its store, the run's own (linked to its workflow's), which also aborts when the
   * run's lease is lost.
   */
  get signal(): AbortSignal {
    return leaseControllers.get(this.run)?.signal ?? (this.wf.controller ??= new AbortController()).signal;
  }

  get aborted(): boolean {
    return (this.wf.controller?.signal.aborted ?? false) || (leaseControllers.get(this.run)?.signal.aborted ?? false);
  }
}

/** What a run context needs from its board. */
export interface RunHost {
  publishOutput(active: ActiveRun, draft: Draft): Promise<Artifact>;
  reader(agent: LiveAgent): BoardReader;
  progress(active: ActiveRun, detail: unknown): void;
  usage(active: ActiveRun, usage: Readonly<Record<string, number>>): void;
}

/** Adds each count of `usage` to `into`. */
export function addUsage(into: Record<string, number>, usage: Readonly<Record<string, number>>): void {
  for (const key of Object.keys(usage)) into[key] = (into[key] ?? 0) + usage[key]!;
}

/** A run's usage as span attributes (`skein.usage.inputTokens`), or nothing. */
export function usageAttributes(active: ActiveRun): Record<string, number> {
  const attributes: Record<string, number> = {};
  if (active.usage !== undefined) for (const key of Object.keys(active.usage)) attributes[`skein.usage.${key}`] = active.usage[key]!;
  return attributes;
}

function checkUsage(usage: unknown): Readonly<Record<string, number>> {
  if (typeof usage !== 'object' || usage === null || Array.isArray(usage)) throw new TypeError(`reportUsage needs an object of counts by name, got ${describe(usage)}`);
  for (const [key, value] of Object.entries(usage)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`reportUsage count '${key}' must be a finite number >= 0, got ${describe(value)}`);
  }
  return usage as Readonly<Record<string, number>>;
}

/** What an agent's body, engines and hooks receive. */
export class RunContext implements AgentContext {
  readonly #host: RunHost;
  readonly #state: ActiveRun;
  readonly #signal: AbortSignal | undefined;
  readonly attempt: number;
  readonly inputs: readonly Artifact[];

  constructor(host: RunHost, state: ActiveRun, attempt: number, inputs: readonly Artifact[], signal: AbortSignal | undefined) {
    this.#host = host;
    this.#state = state;
    this.attempt = attempt;
    this.inputs = inputs;
    this.#signal = signal;
  }

  get signal(): AbortSignal {
    return this.#signal ?? this.#state.signal;
  }

  get agent(): string {
    return this.#state.agent.spec.name;
  }

  get runId(): string {
    return this.#state.run.id;
  }

  get correlationId(): string {
    return this.#state.run.correlationId;
  }

  get board(): BoardReader {
    return this.#host.reader(this.#state.agent);
  }

  get timer(): TimerTickPayload | undefined {
    const run = this.#state.run;
    return run.subscription === TIMER_SUBSCRIPTION ? (this.#state.inputs[0]?.payload as TimerTickPayload | undefined) : undefined;
  }

  publish<T, I>(type: ArtifactType<T, I>, payload: I, options?: DraftOptions): Promise<Artifact<T>> {
    const signal = this.signal;
    if (signal.aborted) return Promise.reject(signal.reason as unknown);
    assertArtifactType(type, 'ctx.publish type');
    return this.#host.publishOutput(this.#state, type.draft(payload, options)) as Promise<Artifact<T>>;
  }

  reportProgress(detail: unknown): void {
    this.#host.progress(this.#state, detail);
  }

  reportUsage(usage: Readonly<Record<string, number>>): void {
    this.#host.usage(this.#state, checkUsage(usage));
  }

  withSignal(signal: AbortSignal): RunContext {
    return new RunContext(this.#host, this.#state, this.attempt, this.inputs, signal);
  }
}
