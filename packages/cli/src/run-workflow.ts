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
import { buildSummary, type ResumedState, type RunStatus, type RunSummary } from './summary.js';
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
}


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
  assertWorkflow(workflow, 'runWorkflow workflow');
  assertOptions(options);
  assertSignal(options.signal);
  if (options.timeoutMs !== undefined) assertDuration(options.timeoutMs, 'timeoutMs');
  const renderer = options.renderer ?? new SilentRenderer();
  const overrides = options.concurrency ?? {};
  const outer = options.signal;
  const startedAt = options.startedAt ?? Date.now();
  if (!Number.isFinite(startedAt)) throw new RangeError(`startedAt must be a finite number of epoch ms, got ${String(startedAt)}`);
  const model = new ProgressModel(startedAt);
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
  const header: { workflow: string; inputs?: typeof inputs; resumed?: ResumedState } = { workflow: workflow.name };
  const store = options.store;
  let board: RunnableBoard | undefined;
  let reader: Promise<void> | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let trace: TraceWriter | undefined;
  let result: WorkflowResult | undefined;
  let stopReason: unknown;
  try {
    trace = options.tracePath === undefined ? undefined : await TraceWriter.open(options.tracePath);
    const created: unknown = await (store === undefined ? workflow.createBoard(context) : withBoardDefaults({ store }, () => workflow.createBoard(context)));
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
    if (store !== undefined) {
      for (const run of await store.listRuns()) if (agents.includes(run.agent)) model.addQueued(run.agent, run.id);
      ledger = await InputLedger.read(store);
    }

    const events = board.events({ bufferSize: 1 << 16 });
    reader = (async () => {
      for await (const event of events) {
        model.apply(event);
        await trace?.write(event);
      }
    })();
    ticker = setInterval(() => renderer.render(model.snapshot(Date.now()), header), options.tickMs ?? TTY_TICK_MS);

    try {
      if (store !== undefined) {
        // After the agents are declared and before anything is published (board.resume's contract).
        const found = await board.resume!();
        header.resumed = { ...found, inputs: ledger.size };
        renderer.render(model.snapshot(Date.now()), header);
      }
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
    await settleAll([() => board?.shutdown(), () => store?.close?.(), () => reader, () => renderer.close(), () => runCleanups(cleanups), () => trace?.close()]);
  }

  const snapshot = model.snapshot(Date.now());
  const timings = model.timings();
  const failed = timings.some((t) => t.failed > 0);
  const status: RunStatus =
    stopReason === undefined ? (failed ? 'failed' : 'completed') : stopReason instanceof TimeoutError ? 'timed-out' : 'interrupted';
  return buildSummary({
    workflow: workflow.name,
    status,
    exitCode: status === 'interrupted' ? interruptedExitCode(stopReason) : EXIT_CODES[status],
    snapshot,
    timings,
    result,
    reason: stopReason === undefined ? undefined : `${firstLine(stopReason)}; in-flight runs were cancelled`,
    store: board?.store,
    trace: options.tracePath,
    resumed: header.resumed,
  });
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
