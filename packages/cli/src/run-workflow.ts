/**
 * One `skein run`: build the workflow's board, watch its event stream, publish the inputs, wait
 * for idle (or a deadline, or Ctrl-C), let the workflow finish, shut the board down and summarise.
 * Whatever happens, the board is shut down, its event reader and the view's timer are stopped and the
 * workflow's cleanups run before this returns.
 */
import { constants } from 'node:os';
import { TimeoutError } from 'skein';
import { withBoardDefaults, type BoardStore } from 'skein/board';
import { InputLedger } from './input-ledger.js';
import { assertDuration, assertOptions, assertSignal } from './validate.js';
import { CliError } from './cli-error.js';
import { formatDuration } from './format.js';
import { firstLine } from './load-workflow.js';
import { ProgressModel } from './progress-model.js';
import { SilentRenderer, TTY_TICK_MS, type ProgressRenderer } from './renderer.js';
import { buildSummary, type ClusterState, type ResumedState, type RunStatus, type RunSummary } from './summary.js';
import { TraceWriter } from './trace-writer.js';
import { assertWorkflow, isRunnableBoard, type RunnableBoard, type Workflow, type WorkflowContext, type WorkflowInput, type WorkflowResult } from './workflow.js';

/** `--concurrency`: a limit for every agent and/or limits by agent name. */
export interface ConcurrencyOverrides {
  readonly all?: number;
  readonly byAgent?: Readonly<Record<string, number>>;
}

/** Options of {@link runWorkflow}; the CLI sets them from its flags. */
export interface RunWorkflowOptions {
  /** The workflow's arguments (default none). */
  readonly args?: readonly string[];
  /** Default `process.cwd()`. */
  readonly cwd?: string;
  readonly concurrency?: ConcurrencyOverrides;
  /** The whole run's deadline, from `startedAt` to idle, in ms. */
  readonly timeoutMs?: number | undefined;
  /**
   * When the run began, in epoch ms (default now): the origin of `timeoutMs` and of the elapsed
   * time. The CLI passes the moment it started loading the module, since loading is part of the run.
   */
  readonly startedAt?: number;
  /** Where to write the events as JSON lines. */
  readonly tracePath?: string | undefined;
  /** How progress is shown (default: not at all). */
  readonly renderer?: ProgressRenderer;
  /** How often the renderer is called (default 100 ms). */
  readonly tickMs?: number;
  /** Stops the run, which is then summarised as interrupted. */
  readonly signal?: AbortSignal;
  /**
   * A durable store for the workflow's board (`--store`). Every `new Board()` that `createBoard`
   * constructs without a store of its own gets this one (see `withBoardDefaults` in skein/board); a
   * board that ends up with another store is refused. The board then resumes what the store holds
   * (`board.resume()`) before the inputs are published, and inputs the store already holds are not
   * published again. The store is closed when the run ends (by the board's shutdown).
   */
  readonly store?: BoardStore;
  /**
   * With `store`: other boards (`skein worker` processes) share it. The board is built with
   * `shared: true`: it takes only its share of the runs, `runUntilIdle` asks the store, and the view
   * adds what the store says of all workers. `board.resume()` is not called (a shared board requeues
   * expired leases as it polls). Default false.
   */
  readonly shared?: boolean;
  /** False: the board publishes and watches but runs nothing (`--no-work`; needs `shared`). Default true. */
  readonly work?: boolean;
  /**
   * Called once the board is built, before anything is published (`--dashboard` serves it). What it
   * returns is called when the run ends, before the board shuts down.
   */
  readonly onBoard?: (board: RunnableBoard) => Promise<() => Promise<void>>;
}

/** Options of {@link runWorker}. */
export interface RunWorkerOptions extends Omit<RunWorkflowOptions, 'timeoutMs' | 'shared' | 'work' | 'store'> {
  /** The store the worker shares with `skein run` and the other workers. */
  readonly store: BoardStore;
}

/** Set when the view asks the store for what every worker does: at most once a second. */
const STORE_POLL_MS = 1_000;


/** Exit codes: 0 completed, 1 some run failed for good, 124 the `--timeout` passed (as `timeout(1)`). */
export const EXIT_CODES = { completed: 0, failed: 1, 'timed-out': 124 } as const;

/**
 * Runs a workflow as `skein run` does, without the terminal: builds the board, publishes the inputs,
 * waits for idle, calls `finish`, shuts the board down, runs the workflow's cleanups and resolves
 * with the summary. An aborted `signal` or a passed `timeoutMs` stops the run (status
 * `interrupted` / `timed-out`) rather than rejecting. Rejects with a `CliError` for bad input (no
 * board, an unknown agent in `concurrency`) and with the workflow's own error if `inputs` or
 * `finish` throws; the board is shut down either way.
 *
 * @example
 * ```ts
 * import { runWorkflow } from '@skein/cli';
 * import workflow from './flow.js';
 * const summary = await runWorkflow(workflow, { args: ['./docs'], timeoutMs: 30_000 });
 * console.log(summary.status, summary.agents);
 * ```
 */
export async function runWorkflow(workflow: Workflow, options: RunWorkflowOptions = {}): Promise<RunSummary> {
  return execute(workflow, options, 'run');
}

/**
 * Runs a workflow's agents as one worker, as `skein worker` does: builds the board on `store` with
 * `shared: true`, publishes nothing, and runs whatever runs of its agents the store holds (its own
 * limits per agent) until `signal` aborts. Then the board shuts down: runs in flight are aborted and
 * handed back to the store for the other workers, and the summary (status `interrupted`) says what
 * this worker ran.
 *
 * @example
 * ```ts
 * import { runWorker } from '@skein/cli';
 * import { PostgresStore } from 'skein/board/postgres';
 * import workflow from './flow.js';
 * const store = await PostgresStore.open({ connectionString: process.env.DATABASE_URL });
 * const summary = await runWorker(workflow, { store, signal: AbortSignal.timeout(60_000) });
 * ```
 */
export async function runWorker(workflow: Workflow, options: RunWorkerOptions): Promise<RunSummary> {
  assertOptions(options);
  if (options === undefined || typeof options.store !== 'object' || options.store === null) throw new TypeError('runWorker needs a store');
  return execute(workflow, { ...options, shared: true }, 'worker');
}

async function execute(workflow: Workflow, options: RunWorkflowOptions, role: 'run' | 'worker'): Promise<RunSummary> {
  assertWorkflow(workflow, `${role === 'run' ? 'runWorkflow' : 'runWorker'} workflow`);
  assertOptions(options);
  assertSignal(options.signal);
  if (options.timeoutMs !== undefined) assertDuration(options.timeoutMs, 'timeoutMs');
  const renderer = options.renderer ?? new SilentRenderer();
  const overrides = options.concurrency ?? {};
  const outer = options.signal;
  const startedAt = options.startedAt ?? Date.now();
  if (!Number.isFinite(startedAt)) throw new RangeError(`startedAt must be a finite number of epoch ms, got ${String(startedAt)}`);
  const sharing = options.store !== undefined && (options.shared === true || role === 'worker');
  const model = new ProgressModel(startedAt, { countScheduled: !sharing });
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  const timeoutMs = options.timeoutMs;
  const deadline =
    timeoutMs === undefined
      ? undefined
      : setTimeout(
          () => controller.abort(new TimeoutError(`the run did not finish within ${formatDuration(timeoutMs)}`)),
          Math.max(0, startedAt + timeoutMs - Date.now()),
        );

  const cleanups: (() => unknown)[] = [];
  const asked = new Set<string>();
  const context: WorkflowContext = {
    args: options.args ?? [],
    cwd: options.cwd ?? process.cwd(),
    signal: controller.signal,
    concurrency(name, fallback) {
      asked.add(name);
      return (overrides.byAgent !== undefined && Object.hasOwn(overrides.byAgent, name) ? overrides.byAgent[name] : undefined) ?? overrides.all ?? fallback;
    },
    defer(cleanup) {
      if (typeof cleanup !== 'function') throw new TypeError('defer needs a function');
      cleanups.push(cleanup);
    },
  };

  const inputs = { published: 0, total: undefined as number | undefined };
  // The inputs count shows once the workflow has produced its inputs (listing them may take a while).
  const header: { workflow: string; role: 'run' | 'worker'; inputs?: typeof inputs; resumed?: ResumedState; cluster?: ClusterState } = { workflow: workflow.name, role };
  const store = options.store;
  const shared = store !== undefined && options.shared === true;
  if (options.work === false && !shared) throw new TypeError('work: false needs a shared store (shared: true): otherwise nothing would run the runs');
  const defaults = { store, ...(shared ? { shared: true } : {}), ...(options.work === false ? { work: false } : {}) };
  let poller: StorePoller | undefined;
  let deadLettersBefore = 0;
  let failedOnWorkers = 0;
  let board: RunnableBoard | undefined;
  let reader: Promise<void> | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let trace: TraceWriter | undefined;
  let result: WorkflowResult | undefined;
  let stopReason: unknown;
  let detach: (() => Promise<void>) | undefined;
  try {
    trace = options.tracePath === undefined ? undefined : await TraceWriter.open(options.tracePath);
    const created: unknown = await (store === undefined ? workflow.createBoard(context) : withBoardDefaults(defaults, () => workflow.createBoard(context)));
    if (!isRunnableBoard(created)) {
      throw new CliError(`workflow '${workflow.name}': createBoard() returned no board (expected a Board from skein/board)`);
    }
    board = created;
    if (store !== undefined) checkStore(board, store, workflow.name);
    const agents = Object.keys(board.stats?.().agents ?? {});
    checkOverrides(overrides, agents.length > 0 ? agents : [...asked], asked, workflow.name);
    for (const name of agents) model.addAgent(name);
    // What a previous run left: runs (shown as queued until they start again) and inputs.
    let ledger = InputLedger.empty();
    if (store !== undefined && !shared) {
      for (const run of await store.listRuns()) if (agents.includes(run.agent)) model.addQueued(run.agent, run.id);
    }
    if (store !== undefined && role === 'run') ledger = await InputLedger.read(store);
    if (shared) {
      // Other workers' runs are not in this process's events: the view asks the store as well.
      deadLettersBefore = (await store.listDeadLetters()).length;
      poller = new StorePoller(store, (state) => (header.cluster = state));
      const pending = await store.pending();
      header.resumed = { queued: pending.queued + pending.paused, requeued: 0, gates: pending.timedGates, inputs: ledger.size };
    }

    detach = await options.onBoard?.(board);
    const events = board.events({ bufferSize: 1 << 16 });
    reader = (async () => {
      for await (const event of events) {
        model.apply(event);
        await trace?.write(event);
      }
    })();
    ticker = setInterval(() => {
      poller?.poll();
      renderer.render(model.snapshot(Date.now()), header);
    }, options.tickMs ?? TTY_TICK_MS);

    try {
      if (store !== undefined && !shared) {
        // After the agents are declared and before anything is published (board.resume's contract).
        const found = await board.resume!();
        header.resumed = { ...found, inputs: ledger.size };
      }
      if (header.resumed !== undefined) renderer.render(model.snapshot(Date.now()), header);
      // A worker publishes nothing: it runs what the store holds until it is stopped.
      if (role === 'worker') await untilAborted(controller.signal);
      const list = await workflow.inputs(context, board);
      if (Array.isArray(list)) inputs.total = list.length;
      header.inputs = inputs;
      let index = 0;
      for await (const input of list as AsyncIterable<WorkflowInput>) {
        const i = index++;
        if (ledger.has(i, input)) {
          inputs.published++;
          continue;
        }
        // With a durable store, the tag records in the same unit that this input was published.
        const tags = store === undefined ? input.tags : [...(input.tags ?? []), InputLedger.tag(i, input)];
        await board.publish(input.type, input.payload, {
          signal: controller.signal,
          ...(input.correlationId === undefined ? {} : { correlationId: input.correlationId }),
          ...(tags === undefined ? {} : { tags }),
        });
        inputs.published++;
      }
      ledger.checkComplete(index);
      await board.runUntilIdle({ signal: controller.signal });
      if (shared) {
        // Runs that failed on other workers: their dead letters, counted in the store.
        const failedElsewhere = (await store.listDeadLetters()).length - deadLettersBefore - model.timings().reduce((sum, t) => sum + t.failed, 0);
        if (failedElsewhere > 0) failedOnWorkers = failedElsewhere;
      }
      result = (await workflow.finish?.(context, board)) ?? undefined;
    } catch (error) {
      if (!controller.signal.aborted) throw error;
      stopReason = controller.signal.reason;
    }
  } finally {
    clearTimeout(deadline);
    outer?.removeEventListener('abort', onOuterAbort);
    if (ticker !== undefined) clearInterval(ticker);
    // Shutdown aborts what is still running and waits for it (the last frame stays on screen
    // meanwhile); the event stream then ends. Every step runs even if one before it failed; the
    // first failure is rethrown after the last step.
    // The store is closed with the board, or here when no board took it (closing twice is harmless).
    await settleAll([() => poller?.close(), () => detach?.(), () => board?.shutdown(), () => store?.close?.(), () => reader, () => renderer.close(), () => runCleanups(cleanups), () => trace?.close()]);
  }

  const snapshot = model.snapshot(Date.now());
  const timings = model.timings();
  const failed = failedOnWorkers > 0 || timings.some((t) => t.failed > 0);
  const status: RunStatus =
    stopReason === undefined ? (failed ? 'failed' : 'completed') : stopReason instanceof TimeoutError ? 'timed-out' : 'interrupted';
  return buildSummary({
    workflow: workflow.name,
    status,
    exitCode: status === 'interrupted' ? interruptedExitCode(stopReason) : EXIT_CODES[status],
    snapshot,
    timings,
    result,
    reason: stopReason === undefined ? undefined : `${firstLine(stopReason)}; ${store === undefined ? 'in-flight runs were cancelled' : 'in-flight runs were handed back to the store'}`,
    store: board?.store,
    trace: options.tracePath,
    resumed: header.resumed,
    cluster: header.cluster,
    failedOnWorkers,
  });
}

/** Resolves never; rejects with the signal's reason when it aborts. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    else signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

/**
 * What the store says of every worker, for a shared board's view: asked at most once per
 * {@link STORE_POLL_MS}, never twice at a time, with two bounded queries (the counts of
 * `store.pending()`, and the running runs, as many as the workers' limits allow).
 */
class StorePoller {
  readonly #store: BoardStore;
  readonly #update: (state: ClusterState) => void;
  #lastAt = -Infinity;
  #inFlight: Promise<void> | undefined;
  #closed = false;

  constructor(store: BoardStore, update: (state: ClusterState) => void) {
    this.#store = store;
    this.#update = update;
  }

  poll(): void {
    const now = Date.now();
    if (this.#closed || this.#inFlight !== undefined || now - this.#lastAt < STORE_POLL_MS) return;
    this.#lastAt = now;
    this.#inFlight = (async () => {
      try {
        const pending = await this.#store.pending();
        const running = await this.#store.listRuns({ state: 'running' });
        if (this.#closed) return;
        const owners = new Set(running.map((run) => run.owner));
        this.#update({ queued: pending.queued, paused: pending.paused, running: pending.running, workers: owners.size, timedGates: pending.timedGates });
      } catch {
        // A failed look (the store closing, a lost connection) leaves the last answer on screen.
      } finally {
        this.#inFlight = undefined;
      }
    })();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#inFlight;
  }
}

/**
 * With `--store`, the board must keep its state there: a board given a store of its own by
 * `createBoard` (or built outside it, or by a second copy of skein) would ignore the flag in silence.
 */
function checkStore(board: RunnableBoard, store: BoardStore, workflow: string): void {
  if (board.store !== store) {
    const name = (board.store as { constructor?: { name?: string } } | undefined)?.constructor?.name ?? 'another store';
    throw new CliError(
      `workflow '${workflow}': its board keeps its state in a ${name} of its own, so --store would be ignored: construct the board in createBoard() without a store (new Board() or new Board({ ... }) without store), and the command gives it the store`,
    );
  }
  if (typeof board.resume !== 'function') throw new CliError(`workflow '${workflow}': its board has no resume() (an older skein?): --store needs skein's Board`);
}

/** 128 + the signal's number, as a shell reports it (130 for SIGINT, 143 for SIGTERM); 130 when no signal is named. */
function interruptedExitCode(reason: unknown): number {
  const name = (reason as { signal?: unknown } | undefined)?.signal;
  const number = typeof name === 'string' ? (constants.signals as Record<string, number | undefined>)[name] : undefined;
  return 128 + (number ?? constants.signals.SIGINT);
}

/** Runs every cleanup, last registered first, even when one throws. */
function runCleanups(cleanups: readonly (() => unknown)[]): Promise<void> {
  return settleAll([...cleanups].reverse());
}

/** Runs `steps` one after the other, each even if one before it failed; rejects with the first failure after the last. */
async function settleAll(steps: readonly (() => unknown)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}

/**
 * An override that would change nothing is an error rather than a silent no-op: the agent does not
 * exist, or the workflow sets its limit itself instead of asking `ctx.concurrency`.
 */
function checkOverrides(overrides: ConcurrencyOverrides, agents: readonly string[], asked: ReadonlySet<string>, workflow: string): void {
  for (const name of Object.keys(overrides.byAgent ?? {})) {
    if (!agents.includes(name)) {
      throw new CliError(`--concurrency: workflow '${workflow}' has no agent named '${name}' (agents: ${agents.join(', ') || 'none'})`);
    }
    if (!asked.has(name)) {
      throw new CliError(`--concurrency: workflow '${workflow}' fixes the limit of agent '${name}' itself (it does not call ctx.concurrency('${name}', ...))`);
    }
  }
  if (overrides.all !== undefined && asked.size === 0) {
    throw new CliError(`--concurrency: workflow '${workflow}' fixes every agent's limit itself (it never calls ctx.concurrency)`);
  }
}
