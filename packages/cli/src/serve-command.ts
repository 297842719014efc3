/**
 * `skein serve <workflow> [args...]`: builds the workflow's board (on `--store` when given) and serves
 * it with `serve()` from skein/serve (the JSON API, the event stream and the dashboard) until SIGINT
 * (exit 130) or SIGTERM (exit 143); then the server closes and the board shuts down. It publishes no
 * inputs: artifacts come through the API (or the dashboard's publish form).
 */
import { randomBytes } from 'node:crypto';
import { Option, type Command } from 'commander';
import { withBoardDefaults, type Board } from 'skein/board';
import { main, type MainProcess } from 'skein/node';
import { serve } from 'skein/serve';
import { CliError } from './cli-error.js';
import { loadWorkflow } from './load-workflow.js';
import type { OutputStream } from './renderer.js';
import { openStore, parseStoreUrl, type OpenedStore, type StoreUrl } from './store-option.js';
import type { RunnableBoard, WorkflowContext } from './workflow.js';

/** The port `skein serve` listens on unless `--port` says otherwise. */
export const DEFAULT_SERVE_PORT = 4300;

/** Options of `skein serve` after parsing. */
export interface ServeCommandOptions {
  readonly host: string;
  /** 0: a free port (the URL printed says which). */
  readonly port: number;
  /** `--token`; the environment's `SKEIN_SERVE_TOKEN` is read when the command runs. */
  readonly token: string | undefined;
  /** False with `--no-auth` (loopback only). */
  readonly auth: boolean;
  readonly store: StoreUrl | undefined;
}

/** What `skein serve` was asked to do. */
export interface ServeRequest {
  readonly command: 'serve';
  readonly file: string;
  readonly args: string[];
  readonly options: ServeCommandOptions;
}

interface RawServeOptions {
  host: string;
  port: number;
  token?: string;
  auth: boolean;
  store?: StoreUrl;
}

/** A TCP port, 0 to 65535 (0: any free one). */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(port) || port > 65_535) throw new CliError(`error: --port must be a port number from 0 to 65535, got '${value}'`);
  return port;
}

const isLoopbackHost = (host: string): boolean => /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i.test(host);

/** Adds `serve` to `program`; `onServe` receives the parsed request. */
export function addServeCommand(program: Command, onServe: (request: ServeRequest) => void): void {
  program
    .command('serve')
    .description("serve a workflow's board over HTTP (JSON API, live events, dashboard) until SIGTERM (exit 143) or Ctrl-C (exit 130); publishes no inputs")
    .argument('<workflow>', 'the workflow file, the same as `skein run` is given')
    .argument('[args...]', 'arguments for the workflow (after -- if they start with a dash)')
    .option('--host <address>', 'the address to bind; anything but loopback needs a token', '127.0.0.1')
    .addOption(new Option('--port <port>', 'the port (0: a free one; the URL printed says which)').argParser(parsePort).default(DEFAULT_SERVE_PORT))
    .option('--token <token>', 'the bearer token writes need (default: env SKEIN_SERVE_TOKEN)')
    .option('--no-auth', 'serve without a token (only on a loopback address)')
    .addOption(
      new Option('--store <url>', 'keep the board in a durable store and resume it: sqlite:./run.db, postgres://user@host/db').argParser(parseStoreUrl),
    )
    .exitOverride()
    .action((file: string, args: string[], raw: RawServeOptions, command: Command) => {
      if (!raw.auth && !isLoopbackHost(raw.host)) command.error(`error: --no-auth is allowed only on a loopback address, not on ${raw.host}`);
      if (!raw.auth && raw.token !== undefined) command.error('error: --no-auth and --token contradict each other');
      onServe({ command: 'serve', file, args, options: { host: raw.host, port: raw.port, token: raw.token, auth: raw.auth, store: raw.store } });
    });
}

/** What `skein serve` touches of the outside world (the CLI's io). */
export interface ServeIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly exit: (code: number) => void;
  readonly process: MainProcess;
}

/** How long a shutdown (Ctrl-C) may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Runs `skein serve`: loads the workflow, opens `--store`, then under `main` builds the board,
 * serves it and waits for a signal. Resolves with the exit code once `io.exit` was called with it.
 */
export async function serveCommand(io: ServeIo, request: ServeRequest, describeError: (error: unknown) => string): Promise<number> {
  const { file, args, options } = request;
  const token = options.auth ? (options.token ?? io.env.SKEIN_SERVE_TOKEN) : undefined;
  if (options.auth && token === undefined) {
    throw new CliError('skein serve needs a token for writes: --token <token> or env SKEIN_SERVE_TOKEN (or --no-auth on a loopback address)');
  }
  const { workflow } = await loadWorkflow(file, io.cwd);
  let opened: OpenedStore | undefined;
  try {
    opened = options.store === undefined ? undefined : await openStore(options.store, { cwd: io.cwd });
    const store = opened?.store;
    return await main(
      async (signal) => {
        const cleanups: (() => unknown)[] = [];
        const context: WorkflowContext = {
          args,
          cwd: io.cwd,
          signal,
          concurrency: (_name, fallback) => fallback,
          defer(cleanup) {
            if (typeof cleanup !== 'function') throw new TypeError('defer needs a function');
            cleanups.push(cleanup);
          },
        };
        let board: Board | undefined;
        let server: { close(): Promise<void> } | undefined;
        try {
          const created: unknown = await (store === undefined ? workflow.createBoard(context) : withBoardDefaults({ store }, () => workflow.createBoard(context)));
          if (typeof created !== 'object' || created === null || typeof (created as Partial<Board>).graph !== 'function' || typeof (created as Partial<Board>).shutdown !== 'function') {
            throw new CliError(`workflow '${workflow.name}': createBoard() returned no board (expected a Board from skein/board)`);
          }
          board = created as Board;
          if (store !== undefined && board.store !== store) throw new CliError(`workflow '${workflow.name}': its board keeps its state in a store of its own, so --store would be ignored`);
          if (store !== undefined) await board.resume();
          const handle = await serve(board, { host: options.host, port: options.port, ...(token === undefined ? { auth: false } : { token }) });
          server = handle;
          io.stdout.write(`${handle.url}\n`);
          io.stderr.write(`skein serve ${workflow.name}: serving on ${handle.url} (dashboard at /, API under /api); SIGTERM or Ctrl-C stops it\n`);
          await new Promise<void>((resolve) => {
            if (signal.aborted) resolve();
            else signal.addEventListener('abort', () => resolve(), { once: true });
          });
        } finally {
          await server?.close();
          await board?.shutdown();
          for (const cleanup of cleanups.reverse()) await cleanup();
        }
      },
      {
        shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
        exit: io.exit,
        onError: (error) => io.stderr.write(`skein: ${describeError(error)}\n`),
        process: io.process,
      },
    );
  } finally {
    await opened?.close().catch(() => {});
  }
}

/**
 * `skein run --dashboard[=port]`: serves the run's board on 127.0.0.1 while it runs and says where on
 * stderr (stdout stays the summary's). Writes need env `SKEIN_SERVE_TOKEN`, or else a token made for
 * this run, which the printed URL carries (`#token=`: the dashboard keeps it for the tab).
 */
export function dashboardHook(io: Pick<ServeIo, 'stderr' | 'env'>, port: number): (board: RunnableBoard) => Promise<() => Promise<void>> {
  return async (board) => {
    if (typeof (board as Partial<Board>).graph !== 'function') throw new CliError('--dashboard needs a Board from skein/board');
    const fromEnv = io.env.SKEIN_SERVE_TOKEN;
    const token = fromEnv ?? randomBytes(24).toString('base64url');
    const handle = await serve(board as Board, { port, token });
    io.stderr.write(`skein run: dashboard at ${handle.url}${fromEnv === undefined ? `#token=${token}` : ''}\n`);
    return () => handle.close();
  };
}
