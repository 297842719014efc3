/**
 * Finds and imports a workflow module. TypeScript files load without a build step: under tsx (as
 * `npm start` runs) they import directly; under plain Node the CLI registers tsx's loader first, so
 * the workflow and skein share one module graph (no second copy of the board).
 */
import { stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CliError } from './cli-error.js';
import { assertWorkflow, isRunnableBoard, type Workflow } from './workflow.js';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** Imports `file` (relative to `cwd`) and returns its workflow, or throws a {@link CliError} that says what is wrong. */
export async function loadWorkflow(file: string, cwd: string): Promise<{ workflow: Workflow; path: string }> {
  const path = resolve(cwd, file);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new CliError(`workflow file not found: ${file}`);
  if (!info.isFile()) throw new CliError(`workflow must be a file, but ${file} is a directory`);

  const module = await importModule(path).catch((error: unknown) => {
    throw new CliError(`could not load ${file}: ${firstLine(error)}`, { cause: error });
  });
  const candidate = module.default ?? module.workflow;
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

async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (!TYPESCRIPT.has(extname(path)) || (error as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
  }
  // Plain Node met a .ts file: register tsx for the rest of the process, then import again.
  const tsx = await import('tsx/esm/api').catch(() => {
    throw new Error('TypeScript workflows need tsx: npm install --save-dev tsx (or run the CLI with `npx tsx`)');
  });
  tsx.register();
  // Node caches the failed import of `url`; a query makes a fresh one (nothing of it ran the first time).
  return (await import(`${url}?tsx`)) as Record<string, unknown>;
}

/** An error's message, first line only: the CLI reports bad input in one line. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
