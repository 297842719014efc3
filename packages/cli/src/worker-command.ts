/** `skein worker <workflow> [args...] --store <url>`: its options and how they are parsed. */
import { Option, type Command } from 'commander';
import { concurrencyOption } from './run-command.js';
import type { ConcurrencyOverrides } from './run-workflow.js';
import { parseStoreUrl, type StoreUrl } from './store-option.js';

/** Options of `skein worker` after parsing. */
export interface WorkerCommandOptions {
  readonly concurrency: ConcurrencyOverrides;
  readonly quiet: boolean;
  readonly json: boolean;
  readonly trace: string | undefined;
  readonly store: StoreUrl;
}

/** What `skein worker` was asked to do. */
export interface WorkerRequest {
  readonly command: 'worker';
  readonly file: string;
  readonly args: string[];
  readonly options: WorkerCommandOptions;
}

interface RawWorkerOptions {
  concurrency: ConcurrencyOverrides;
  quiet?: boolean;
  json?: boolean;
  trace?: string;
  store: StoreUrl;
}

/** Adds `worker` to `program`; `onWorker` receives the parsed request. */
export function addWorkerCommand(program: Command, onWorker: (request: WorkerRequest) => void): void {
  program
    .command('worker')
    .description("run a workflow's agents as one worker on a shared store, until SIGTERM (exit 143) or Ctrl-C (exit 130); publishes nothing")
    .argument('<workflow>', 'the workflow file, the same as `skein run` is given')
    .argument('[args...]', 'arguments for the workflow (after -- if they start with a dash)')
    .addOption(
      new Option('--store <url>', 'the store shared with `skein run` and the other workers: postgres://user@host/db, or sqlite:./run.db on one machine')
        .argParser(parseStoreUrl)
        .makeOptionMandatory(),
    )
    .addOption(concurrencyOption())
    .option('-q, --quiet', 'no progress view; print only the result line when it stops')
    .option('--json', 'print the summary as JSON on stdout when it stops')
    .option('--trace <file>', "write every event of this worker's board to <file> as JSON lines")
    .exitOverride()
    .action((file: string, args: string[], raw: RawWorkerOptions) => {
      onWorker({
        command: 'worker',
        file,
        args,
        options: { concurrency: raw.concurrency, quiet: raw.quiet === true, json: raw.json === true, trace: raw.trace, store: raw.store },
      });
    });
}
