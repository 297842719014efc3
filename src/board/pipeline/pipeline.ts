/**
 * The context every stage of the board shares: the store, ids, clock, events, tracing, the root
 * scope, the registry of agents and routes, and the stages themselves. Each stage is a file of its
 * own that receives this object; none calls back into `Board`, which is only a facade over them.
 *
 * The data path: intake (validate, freeze, backpressure) -> router (match, visibility, gate deposits)
 * -> publish unit (store) -> dispatcher (claim, permit) -> executor (hooks, engines, best-of, retries)
 * -> completion unit (outputs routed in the same unit) -> dispatcher ... Deadlines flush due gates;
 * workflows and idle answer who waits for what. In shared mode (`shared.ts`) other boards use the
 * same store: the board polls it, renews its leases, and asks it the idle question.
 */
import type { Tracer } from '../otel.js';
import { TaskGroup } from '../../core/scope.js';
import type { GraceOptions } from '../../core/grace.js';
import type { AnyArtifactType } from '../artifact.js';
import { summarizeError } from '../builtins.js';
import type { BoardComponent } from '../components.js';
import { EventHub } from '../events.js';
import type { BoardStore } from '../store/contract.js';
import { Tracing } from '../tracing.js';
import { Completion } from './completion.js';
import { Counters } from './counters.js';
import { Deadlines } from './deadlines.js';
import { Dispatcher } from './dispatcher.js';
import { Executor } from './executor.js';
import { Idle } from './idle.js';
import { Intake } from './intake.js';
import type { LiveAgent, Route } from './live.js';
import { Router } from './router.js';
import { Shared } from './shared.js';
import { Timers } from './timers.js';
import { Units } from './units.js';
import { Workflows } from './workflows.js';
import { WorkflowUsage } from './workflow-usage.js';

const noop = (): void => {};

/**
 * Ids: a random 64-bit prefix per board and a counter. Unique across boards and processes sharing a
 * store, and far cheaper than one UUID per artifact and per run. Only `[0-9a-z-]`: storable anywhere.
 */
export class IdSource {
  readonly prefix = globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 16);
  #next = 0;

  next(): string {
    return `${this.prefix}-${(this.#next++).toString(36)}`;
  }
}

export interface PipelineOptions extends GraceOptions {
  readonly store: BoardStore;
  readonly queueCapacity: number;
  readonly maxRunsPerWorkflow: number;
  readonly tracer: Tracer | undefined;
  readonly leaseMs: number;
  /** Other boards share the store: poll it every this many ms (undefined: this board alone uses it). */
  readonly pollMs: number | undefined;
  /** False: this board publishes, routes and watches, but claims no run. */
  readonly work: boolean;
}

/** The shared context of the board's stages. */
export class Pipeline {
  readonly store: BoardStore;
  readonly ids = new IdSource();
  readonly events = new EventHub();
  readonly tracing: Tracing;
  /** The root scope: every run, pump and timer handler the board starts is a child of it. */
  readonly scope: TaskGroup;
  /** Who claims runs: this board, in the store's eyes. */
  readonly owner: string;
  readonly leaseMs: number;
  readonly queueCapacity: number;
  readonly maxRunsPerWorkflow: number;
  /** Set when other boards share the store (`shared` option): polling, leases, idle asked of the store. */
  readonly shared: Shared | undefined;
  /** False when this board claims nothing (`work: false`). */
  readonly work: boolean;

  readonly agents = new Map<string, LiveAgent>();
  /** Subscriptions indexed by artifact type name. */
  readonly routes = new Map<string, Route[]>();
  readonly types = new Map<string, AnyArtifactType>();
  components: readonly BoardComponent[] = [];
  publishComponents: readonly BoardComponent[] = [];
  scheduleComponents: readonly BoardComponent[] = [];

  closed = false;
  /**
   * Sharing the store: called after each poll of the store and each store notice (other boards may
   * have changed something), for those waiting on a condition over the store (`board.runUntil`).
   */
  readonly storeWatchers = new Set<() => void>();

  readonly counters: Counters;
  readonly workflows: Workflows;
  /** Usage summed per workflow (`board.workflow(id).usage()`), bounded; outlives the pruned workflow records. */
  readonly workflowUsage = new WorkflowUsage();
  readonly idle: Idle;
  readonly intake: Intake;
  readonly router: Router;
  readonly units: Units;
  readonly deadlines: Deadlines;
  readonly timers: Timers;
  readonly dispatcher: Dispatcher;
  readonly executor: Executor;
  readonly completion: Completion;

  #lastMs = Number.NaN;
  #lastIso = '';

  constructor(options: PipelineOptions) {
    this.store = options.store;
    this.queueCapacity = options.queueCapacity;
    this.maxRunsPerWorkflow = options.maxRunsPerWorkflow;
    this.leaseMs = options.leaseMs;
    this.tracing = new Tracing(options.tracer);
    this.scope = new TaskGroup({ graceMs: options.graceMs, onStraggler: options.onStraggler });
    this.owner = `board-${this.ids.prefix}`;
    this.counters = new Counters(this);
    this.workflows = new Workflows(this);
    this.idle = new Idle(this);
    this.intake = new Intake(this);
    this.router = new Router(this);
    this.units = new Units(this);
    this.deadlines = new Deadlines(this);
    this.timers = new Timers(this);
    this.dispatcher = new Dispatcher(this);
    this.executor = new Executor(this);
    this.completion = new Completion(this);
    this.work = options.work;
    this.shared = options.pollMs === undefined ? undefined : new Shared(this, options.pollMs);
  }

  /** Starts `task` in the board's root scope. The board's tasks handle their own errors; none fails the scope. */
  spawn(task: () => Promise<unknown>): void {
    this.scope.spawn(() => task().then(noop, noop)).then(noop, noop);
  }

  /** The current time as ISO 8601, formatted once per millisecond (a flood publishes many per millisecond). */
  isoNow(): string {
    const now = Date.now();
    if (now !== this.#lastMs) {
      this.#lastMs = now;
      this.#lastIso = new Date(now).toISOString();
    }
    return this.#lastIso;
  }

  /** A failure of the board itself (its store, a timer handler): reported as an `error` event. */
  internalError(operation: string, agent: string | undefined, error: unknown): void {
    if (this.events.listening) this.events.emit({ kind: 'error', at: Date.now(), operation, agent, error: summarizeError(error) });
  }

  skipped(agent: string, correlationId: string, inputIds: readonly string[], reason: string): void {
    if (this.events.listening) this.events.emit({ kind: 'skipped', at: Date.now(), agent, correlationId, inputIds, reason });
  }
}
