/**
 * Why a workflow module failed to load, told whole: the error's full message, where in the user's
 * file it happened (file:line:column, 1-based as editors count) and that line with a caret. Three
 * kinds of failure carry their place differently:
 *
 * - a TypeScript syntax error, from esbuild through tsx: "Transform failed with 1 error:" followed by
 *   `file:line:column: ERROR: text` lines (esbuild counts columns from 0);
 * - a JavaScript syntax error, from Node: an ES module's SyntaxError carries no place at all, so the
 *   file is checked again with `node --check`, whose report has the line and a caret;
 * - an error thrown while the module ran: the first stack frame in the workflow's file.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A place in a source file, 1-based. */
export interface SourcePlace {
  readonly line: number;
  readonly column: number;
}

/** How long `node --check` may take before the place is given up on. */
const CHECK_TIMEOUT_MS = 10_000;

/**
 * The full text of a load failure of the module at `path`, shown as `shownAs`: the message (every
 * line), then `at file:line:column` and the source line with a caret when the place is known.
 *
 * @example
 * ```ts
 * describeLoadError(new Error('Transform failed with 1 error:\n/w/flow.ts:3:13: ERROR: Unexpected ","'), '/w/flow.ts', 'flow.ts');
 * // 'flow.ts:3:14: Unexpected ","\n  3 |   name: \'x\' +,\n    |              ^' (with the file's third line)
 * ```
 */
export function describeLoadError(error: unknown, path: string, shownAs: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const esbuild = esbuildErrors(message, path);
  if (esbuild.length > 0) return esbuild.map(({ place, text }) => `${shownAs}:${place.line}:${place.column}: ${text}${frame(path, place)}`).join('\n');
  const name = error instanceof Error && error.name !== 'Error' ? `${error.name}: ` : '';
  const place = error instanceof SyntaxError ? (stackPlace(error, path) ?? checkedPlace(path)) : stackPlace(error, path);
  if (place === undefined) return `${name}${message}`;
  return `${name}${message}\n  at ${shownAs}:${place.line}:${place.column}${frame(path, place)}`;
}

/** esbuild's `file:line:column: ERROR: text` lines that are about `path`. */
function esbuildErrors(message: string, path: string): { place: SourcePlace; text: string }[] {
  if (!message.startsWith('Transform failed with')) return [];
  const errors: { place: SourcePlace; text: string }[] = [];
  for (const line of message.split('\n')) {
    const match = /^(.*):(\d+):(\d+): (?:ERROR|error): (.*)$/.exec(line);
    if (match === null || !samePath(match[1]!, path)) continue;
    errors.push({ place: { line: Number(match[2]), column: Number(match[3]) + 1 }, text: match[4]! });
  }
  return errors;
}

/** The first stack frame in `path` (`(/w/flow.ts:3:9)`, `file:///w/flow.ts:3:9` or a bare `/w/flow.ts:3`). */
function stackPlace(error: unknown, path: string): SourcePlace | undefined {
  const stack = error instanceof Error ? error.stack : undefined;
  if (stack === undefined) return undefined;
  for (const match of stack.matchAll(/(file:\/\/[^\s()]+?|\/[^\s():]+?):(\d+)(?::(\d+))?(?=[)\s]|$)/gm)) {
    if (samePath(match[1]!, path)) return { line: Number(match[2]), column: match[3] === undefined ? 1 : Number(match[3]) };
  }
  return undefined;
}

/** Where `node --check` says the syntax error is: its report's first line is `path:line`, a caret marks the column. */
function checkedPlace(path: string): SourcePlace | undefined {
  const result = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: CHECK_TIMEOUT_MS });
  const lines = (result.stderr ?? '').split('\n');
  const head = /^(.*):(\d+)$/.exec(lines[0] ?? '');
  if (head === null || !samePath(head[1]!, path)) return undefined;
  const caret = (lines[2] ?? '').indexOf('^');
  return { line: Number(head[2]), column: caret === -1 ? 1 : caret + 1 };
}

/** The source line at `place` with a caret under its column, indented under the message. */
function frame(path: string, place: SourcePlace): string {
  let source: string | undefined;
  try {
    source = readFileSync(path, 'utf8').split(/\r?\n/)[place.line - 1];
  } catch {
    return '';
  }
  if (source === undefined) return '';
  const gutter = String(place.line);
  return `\n  ${gutter} | ${source}\n  ${' '.repeat(gutter.length)} | ${source.slice(0, place.column - 1).replace(/[^\t]/g, ' ')}^`;
}

function samePath(candidate: string, path: string): boolean {
  if (candidate.startsWith('file://')) {
    try {
      return fileURLToPath(candidate.replace(/\?.*$/, '')) === path;
    } catch {
      return false;
    }
  }
  return candidate === path;
}
