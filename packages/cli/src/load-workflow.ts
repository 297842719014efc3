/**
 * Finds and imports a workflow module. TypeScript files load without a build step: under tsx (as
 * `npm start` runs) they import directly; under plain Node the CLI registers tsx's loader first, so
 * the workflow and skein share one module graph (no second copy of the board).
 */
import { stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CliError } from './cli-error.js';
import { formatDuration } from './format.js';
import { describeLoadError } from './load-error.js';
import { startWatchdog } from './watchdog.js';
import { assertWorkflow, isRunnableBoard, type Workflow } from './workflow.js';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** Options of {@link loadWorkflow}. */
export interface LoadWorkflowOptions {
  /**
   * How long importing the module may take (its top-level code and awaits included); past it the
   * load fails with a {@link WorkflowLoadTimeout}, or, when the module's code never yields (an
   * endless loop), the process says so on stderr and is killed (see `watchdog.ts`).
   */
  readonly timeoutMs?: number | undefined;
}

/** The deadline passed while the workflow module was still loading. The CLI exits 124, as for a run that timed out. */
export class WorkflowLoadTimeout extends CliError {
  override readonly name: string = 'WorkflowLoadTimeout';
}

/**
 * Imports `file` (relative to `cwd`) and returns its workflow, or throws a {@link CliError} that says
 * what is wrong: for a module that fails to load, the whole error with file, line and column.
 *
 * @example
 * ```ts
 * const { workflow } = await loadWorkflow('examples/markdown-report.ts', process.cwd(), { timeoutMs: 30_000 });
 * console.log(workflow.name); // 'markdown-report'
 * ```
 */
export async function loadWorkflow(file: string, cwd: string, options: LoadWorkflowOptions = {}): Promise<{ workflow: Workflow; path: string }> {
  const path = resolve(cwd, file);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new CliError(`workflow file not found: ${file}`);
  if (!info.isFile()) throw new CliError(`workflow must be a file, but ${file} is a directory`);

  const module = await importWithin(path, file, options.timeoutMs).catch((error: unknown) => {
    if (error instanceof CliError) throw error;
    throw new CliError(`could not load ${file}: ${describeLoadError(error, path, file)}`, { cause: error });
  });
  const candidate = workflowExport(module);
  if (isRunnableBoard(candidate)) {
    throw new CliError(`${file} exports a board, not a workflow: export default defineWorkflow({ name, createBoard: () => board, inputs })`);
  }
  if (candidate === undefined) {
    throw new CliError(`${file} exports no workflow: expected \`export default defineWorkflow({ name, createBoard, inputs })\``);
  }
  try {
    assertWorkflow(candidate, `the workflow exported by ${file}`);
  } catch (error) {
    throw new CliError(firstLine(error), { cause: error });
  }
  return { workflow: candidate, path };
}

/**
 * The module's workflow: its default export, or its `workflow` export. A TypeScript file in a
 * package without `"type": "module"` is compiled to CommonJS, and importing it gives its whole
 * `exports` object as the default: the workflow is then one level down.
 */
function workflowExport(module: Record<string, unknown>): unknown {
  const candidate = module.default ?? module.workflow;
  if (typeof candidate !== 'object' || candidate === null || Object.getPrototypeOf(candidate) !== Object.prototype) return candidate;
  if (typeof (candidate as { createBoard?: unknown }).createBoard === 'function') return candidate;
  const exports = candidate as Record<string, unknown>;
  return exports.default ?? exports.workflow ?? candidate;
}

/**
 * Imports the module, interrupted by a watchdog when `timeoutMs` passes first. Also notices a
 * top-level await that can never settle: the event loop runs empty while the import is pending
 * (Node would otherwise exit with code 13 and say nothing).
 */
async function importWithin(path: string, file: string, timeoutMs: number | undefined): Promise<Record<string, unknown>> {
  const late = `could not load ${file} within ${formatDuration(timeoutMs ?? 0)} (--timeout)`;
  const watchdog =
    timeoutMs === undefined ? undefined : startWatchdog(timeoutMs, `skein: ${late}: its top-level code never yields (an endless loop?), so the process was killed`);
  let onEmptyLoop: (() => void) | undefined;
  const stalled = new Promise<never>((_, reject) => {
    onEmptyLoop = () => {
      // Past the deadline the watchdog's report is on its way.
      if (watchdog?.firing() === true) return;
      reject(new CliError(`could not load ${file}: its top-level await never settled (it waits for something that nothing will do, and nothing else is left to run)`));
    };
    process.on('beforeExit', onEmptyLoop);
  });
  const timedOut = watchdog?.fired.then(() => {
    throw new WorkflowLoadTimeout(`${late}: its top-level code was still waiting`);
  });
  const imported = importModule(path).then((module) => {
    // Loaded as the deadline passed: the watchdog has fired and `timedOut` decides.
    if (watchdog !== undefined && !watchdog.disarm()) return new Promise<never>(() => {});
    return module;
  });
  try {
    return await Promise.race([imported, stalled, ...(timedOut === undefined ? [] : [timedOut])]);
  } finally {
    process.off('beforeExit', onEmptyLoop!);
    // Not awaited when the watchdog fired: the import it interrupted never settles.
    if (watchdog !== undefined && !watchdog.firing()) await watchdog.close();
  }
}

async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (!TYPESCRIPT.has(extname(path)) || (error as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
  }
  // Plain Node met a .ts file: register tsx for the rest of the process, then import again. Both of
  // its hooks: the ES module one, and the CommonJS one for a .ts file in a package without
  // "type": "module" (which TypeScript and tsx treat as CommonJS).
  const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]).catch(() => {
    throw new CliError('TypeScript workflows need tsx: npm install --save-dev tsx (or run the CLI with `npx tsx`)');
  });
  esm.register();
  cjs.register();
  // Node caches the failed import of `url`; a query makes a fresh one (nothing of it ran the first time).
  return (await import(`${url}?tsx`)) as Record<string, unknown>;
}

/** An error's message, first line only: the CLI reports bad input in one line. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
