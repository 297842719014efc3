/** `skein run <workflow> [args...]`: its options and how they are parsed. */
import { Option, type Command } from 'commander';
import { parseConcurrency, parseDuration } from './option-parsers.js';
import type { ConcurrencyOverrides } from './run-workflow.js';
import { DEFAULT_SERVE_PORT, parsePort } from './serve-command.js';
import { parseStoreUrl, type StoreUrl } from './store-option.js';

/** Options of `skein run` after parsing. */
export interface RunCommandOptions {
  readonly concurrency: ConcurrencyOverrides;
  readonly timeoutMs: number | undefined;
  readonly quiet: boolean;
  readonly json: boolean;
  readonly trace: string | undefined;
  /** `--store`: a durable store to run on and resume from (default: memory). */
  readonly store: StoreUrl | undefined;
  /** `--no-work`: publish and watch; workers run every run. */
  readonly work: boolean;
  /** `--dashboard[=port]`: serve the board while it runs, on this port (0: a free one). */
  readonly dashboard: number | undefined;
}

/** What `skein run` was asked to do. */
export interface RunRequest {
  readonly command: 'run';
  readonly file: string;
  readonly args: string[];
  readonly options: RunCommandOptions;
}

interface RawRunOptions {
  concurrency: ConcurrencyOverrides;
  timeout?: number;
  quiet?: boolean;
  json?: boolean;
  trace?: string;
  store?: StoreUrl;
  work: boolean;
  dashboard?: number | true;
}

/** `-c, --concurrency`, shared with `skein worker`. */
export function concurrencyOption(): Option {
  return new Option('-c, --concurrency <limit>', 'max concurrent runs: N for every agent, or agent=N (repeatable, comma-separated)')
    .argParser(parseConcurrency)
    .default({} satisfies ConcurrencyOverrides, "each agent's own");
}

/** Adds `run` to `program`; `onRun` receives the parsed request. */
export function addRunCommand(program: Command, onRun: (request: RunRequest) => void): void {
  program
    .command('run')
    .description('run a workflow module (.ts or .js) until its board is idle')
    .argument('<workflow>', 'the workflow file, e.g. examples/markdown-report.ts')
    .argument('[args...]', 'arguments for the workflow (after -- if they start with a dash)')
    .addOption(concurrencyOption())
    .addOption(new Option('-t, --timeout <duration>', 'stop the run after this long: 90s, 2m, 500ms (a bare number is seconds)').argParser(parseDuration))
    .option('-q, --quiet', 'no progress view; print only the result line and the outputs')
    .option('--json', 'print the summary as JSON on stdout')
    .option('--trace <file>', 'write every board event to <file> as JSON lines')
    .addOption(
      new Option('--store <url>', 'keep the board in a durable store and resume it when run again: sqlite:./run.db, postgres://user@host/db').argParser(parseStoreUrl),
    )
    .option('--no-work', 'with --store: publish the inputs and watch, and let `skein worker` processes run every run')
    .addOption(new Option('--dashboard [port]', `serve the board's dashboard and API on 127.0.0.1 while it runs (default port ${DEFAULT_SERVE_PORT}; 0: a free one)`).argParser(parsePort))
    .exitOverride()
    .action((file: string, args: string[], raw: RawRunOptions, command: Command) => {
      if (!raw.work && raw.store === undefined) command.error('error: --no-work needs --store (the store the workers share)');
      onRun({
        command: 'run',
        file,
        args,
        options: {
          concurrency: raw.concurrency,
          timeoutMs: raw.timeout,
          quiet: raw.quiet === true,
          json: raw.json === true,
          trace: raw.trace,
          store: raw.store,
          work: raw.work,
          dashboard: raw.dashboard === true ? DEFAULT_SERVE_PORT : raw.dashboard,
        },
      });
    });
}
