/**
 * The `skein` command line: argument parsing (commander), then `skein run` under runtime's `main`,
 * which turns Ctrl-C and SIGTERM into an orderly shutdown of the board and the right exit code.
 */
import { Command, CommanderError } from 'commander';
import { main, type MainProcess } from 'skein/node';
import { CliError, USAGE_EXIT_CODE } from './cli-error.js';
import { colorFor, palette } from './format.js';
import { firstLine, loadWorkflow, WorkflowLoadTimeout } from './load-workflow.js';
import { LINE_TICK_MS, LineRenderer, SilentRenderer, TTY_TICK_MS, type OutputStream, type ProgressRenderer } from './renderer.js';
import { coalesceSignals } from './signal-coalescer.js';
import { EXIT_CODES, runWorker, runWorkflow } from './run-workflow.js';
import { addRunCommand, type RunCommandOptions, type RunRequest } from './run-command.js';
import { addWorkerCommand, type WorkerRequest } from './worker-command.js';
import { addServeCommand, dashboardHook, serveCommand, type ServeRequest } from './serve-command.js';
import { openStore, type OpenedStore } from './store-option.js';
import { TtyRenderer } from './tty-renderer.js';
import { formatSummary, type RunSummary } from './summary.js';
import { packageVersion } from './version.js';

/** What the CLI touches of the outside world; tests may replace any of it. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Ends the process (default `process.exit`). */
  readonly exit: (code: number) => void;
  /** Where signals come from (default `process`). */
  readonly process?: MainProcess;
}

/** What the command line asked for: one request per command. */
type CommandRequest = RunRequest | WorkerRequest | ServeRequest;

export { parseConcurrency, parseDuration } from './option-parsers.js';
export type { RunCommandOptions } from './run-command.js';

/** How long a shutdown (Ctrl-C) may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000;
/**
 * How long `main` waits for the run to unwind after a signal. Longer than the board's own grace for
 * runs that ignore their signal (2 s by default), so that the board reports them and the summary is
 * still printed; shorter than the shutdown deadline.
 */
const RUN_GRACE_MS = 8_000;

function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), exit: (code) => process.exit(code) };
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and resolves with the exit code
 * once `io.exit` was called with it.
 */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  let request: CommandRequest | undefined;
  const program = buildProgram(io, (parsed) => (request = parsed));
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return finish(io, error.exitCode === 0 ? 0 : USAGE_EXIT_CODE);
    return fail(io, error);
  }
  if (request === undefined) return finish(io, 0);
  const parsed: CommandRequest = request;
  if (parsed.command === 'serve') {
    return serveCommand({ ...io, process: coalesceSignals(io.process ?? process) }, parsed, (error) => describeError(error, io.env)).catch((error: unknown) => fail(io, error));
  }
  return parsed.command === 'worker' ? workerCommand(io, parsed) : runCommand(io, parsed);
}

/** `skein run`: load the workflow, open its store, run it under `main`. */
async function runCommand(io: CliIo, request: RunRequest): Promise<number> {
  const { file, args, options } = request;
  // --timeout counts from here: loading the module (its top-level code) is part of the run.
  const startedAt = Date.now();
  let opened: OpenedStore | undefined;
  try {
    const { workflow } = await loadWorkflow(file, io.cwd, { timeoutMs: options.timeoutMs });
    opened = options.store === undefined ? undefined : await openStore(options.store, { cwd: io.cwd });
    const store = opened?.store;
    // PostgreSQL is for many workers: the board shares it. SQLite: alone, unless workers run it all.
    const shared = options.store !== undefined && (options.store.kind === 'postgres' || !options.work);
    return await runUnderMain(io, options, (signal) =>
      runWorkflow(workflow, {
        ...(store === undefined ? {} : { store, shared, work: options.work }),
        args,
        cwd: io.cwd,
        concurrency: options.concurrency,
        timeoutMs: options.timeoutMs,
        startedAt,
        tracePath: options.trace,
        renderer: chooseRenderer(io, options),
        tickMs: io.stderr.isTTY === true ? TTY_TICK_MS : LINE_TICK_MS,
        signal,
        ...(options.dashboard === undefined ? {} : { onBoard: dashboardHook(io, options.dashboard) }),
      }),
    );
  } catch (error) {
    return fail(io, error);
  } finally {
    // The board closes its store when it shuts down; this covers a run that never made a board.
    await opened?.close().catch(() => {});
  }
}

/** `skein worker`: load the workflow, open the shared store, run its agents under `main` until a signal. */
async function workerCommand(io: CliIo, request: WorkerRequest): Promise<number> {
  const { file, args, options } = request;
  const startedAt = Date.now();
  let opened: OpenedStore | undefined;
  try {
    const { workflow } = await loadWorkflow(file, io.cwd);
    opened = await openStore(options.store, { cwd: io.cwd });
    const { store } = opened;
    return await runUnderMain(io, options, (signal) => {
      // Said once main handles the signals: from here SIGTERM stops the worker in order.
      if (!options.quiet && !options.json) io.stderr.write(`skein worker ${workflow.name}: working on ${opened!.url}; SIGTERM or Ctrl-C stops it, handing its runs back\n`);
      return runWorker(workflow, {
        store,
        args,
        cwd: io.cwd,
        concurrency: options.concurrency,
        startedAt,
        tracePath: options.trace,
        renderer: chooseRenderer(io, options),
        tickMs: io.stderr.isTTY === true ? TTY_TICK_MS : LINE_TICK_MS,
        signal,
      });
    });
  } catch (error) {
    return fail(io, error);
  } finally {
    await opened?.close().catch(() => {});
  }
}

/** `main` owns the process while the board runs: signals, uncaught errors, the exit code. */
function runUnderMain(io: CliIo, options: Pick<RunCommandOptions, 'json' | 'quiet'>, run: (signal: AbortSignal) => Promise<RunSummary>): Promise<number> {
  let exitCode = 0;
  return main(
    async (signal) => {
      try {
        const summary = await run(signal);
        exitCode = summary.exitCode;
        printSummary(io, options, summary);
      } catch (error) {
        // Bad input found once the workflow ran (no board, an unknown agent): one line, usage code.
        if (!(error instanceof CliError)) throw error;
        io.stderr.write(`skein: ${error.message}\n`);
        exitCode = USAGE_EXIT_CODE;
      }
    },
    {
      shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
      graceMs: RUN_GRACE_MS,
      // main decides on signals (130/143) and failures (1); otherwise the run's own code stands.
      exit: (code) => io.exit(code === 0 ? exitCode : code),
      onError: (error) => io.stderr.write(`skein: ${describeError(error, io.env)}\n`),
      // One Ctrl-C may arrive two or three times (relayed by npm and tsx): count it once.
      process: coalesceSignals(io.process ?? process),
    },
  ).then((code) => (code === 0 ? exitCode : code));
}

function printSummary(io: CliIo, options: Pick<RunCommandOptions, 'json' | 'quiet'>, summary: RunSummary): void {
  if (options.json) {
    io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  const colors = palette(colorFor(io.stdout, io.env));
  if (options.quiet) {
    const line = formatSummary(summary, colors).split('\n')[0]!;
    io.stdout.write(`${[line, ...summary.outputs.map((o) => `${o.label}: ${o.path}`)].join('\n')}\n`);
    return;
  }
  io.stdout.write(`${formatSummary(summary, colors)}\n`);
}

function chooseRenderer(io: CliIo, options: Pick<RunCommandOptions, 'quiet'>): ProgressRenderer {
  if (options.quiet) return new SilentRenderer();
  if (io.stderr.isTTY === true) return new TtyRenderer(io.stderr, palette(colorFor(io.stderr, io.env)));
  return new LineRenderer(io.stderr);
}

function buildProgram(io: CliIo, onRequest: (request: CommandRequest) => void): Command {
  const program = new Command('skein')
    .description('Run skein workflows: a board of agents, with live progress and a summary.')
    .version(packageVersion(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Commander's own errors ("error: unknown option '--x'") become one line with the program's name.
      outputError: (text, write) => write(`skein: ${text.replace(/^error: /, '').trim()}\n`),
    });

  addRunCommand(program, onRequest);
  addWorkerCommand(program, onRequest);
  addServeCommand(program, onRequest);

  program.addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  skein run examples/markdown-report.ts',
      '  skein run examples/markdown-report.ts ./docs --concurrency keywords=2 --json',
      '  skein run examples/markdown-report.ts ./docs --store sqlite:.tmp/report.db   # Ctrl-C, run again: it resumes',
      '  skein worker examples/markdown-report.ts ./docs --store postgres://app@db/app   # on each machine',
      '  skein run examples/markdown-report.ts ./docs --store postgres://app@db/app --no-work',
      '  SKEIN_SERVE_TOKEN=... skein serve examples/markdown-report.ts --port 4300   # the dashboard at http://127.0.0.1:4300/',
      '',
    ].join('\n'),
  );
  return program;
}

function finish(io: CliIo, code: number): number {
  io.exit(code);
  return code;
}

function fail(io: CliIo, error: unknown): number {
  io.stderr.write(`skein: ${describeError(error, io.env)}\n`);
  const code = error instanceof WorkflowLoadTimeout ? EXIT_CODES['timed-out'] : error instanceof CliError ? USAGE_EXIT_CODE : 1;
  return finish(io, code);
}

/**
 * A {@link CliError} whole (a load failure spans lines: the message, the place, the source line);
 * anything else in one line, unless SKEIN_DEBUG asks for the stack.
 */
function describeError(error: unknown, env: NodeJS.ProcessEnv): string {
  if (env.SKEIN_DEBUG !== undefined && error instanceof Error && error.stack !== undefined) {
    const cause = error.cause instanceof Error && error.cause.stack !== undefined ? `\ncaused by: ${error.cause.stack}` : '';
    return `${error.stack}${cause}`;
  }
  return error instanceof CliError ? error.message : firstLine(error);
}
