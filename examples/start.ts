/**
 * `npm start`: skein's core at work on real files. It reads every Markdown file under node_modules
 * (READMEs and changelogs nobody here wrote) with 16 concurrent readers in a scope, then shows what
 * fail-fast and a deadline do to the same work. Pass a directory to read another tree.
 *
 *   npm start                 # node_modules
 *   npm start -- ./docs       # any directory
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { gather, isCancellation, scope, TimeoutError } from 'skein';

const root = resolve(process.argv[2] ?? 'node_modules');
const CONCURRENCY = 16;

async function markdownFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith('.md'))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .sort();
}

interface Stats {
  readonly file: string;
  readonly bytes: number;
  readonly words: number;
  readonly headings: number;
}

async function readStats(file: string, signal: AbortSignal): Promise<Stats> {
  const text = await readFile(file, { encoding: 'utf8', signal });
  return {
    file,
    bytes: Buffer.byteLength(text),
    words: text.split(/\s+/).filter(Boolean).length,
    headings: text.split('\n').filter((line) => /^#{1,6}\s/.test(line)).length,
  };
}

/** Reads every file with at most `concurrency` reads in flight, all inside one scope. */
async function readAll(files: readonly string[], options: { timeout?: number; signal?: AbortSignal } = {}): Promise<Stats[]> {
  const results: Stats[] = [];
  let next = 0;
  await scope((group) => {
    for (let worker = 0; worker < Math.min(CONCURRENCY, files.length); worker++) {
      group.spawn(async (signal) => {
        while (next < files.length) {
          const file = files[next++]!;
          results.push(await readStats(file, signal));
        }
      });
    }
  }, options);
  return results;
}

const ms = (start: number): string => `${(performance.now() - start).toFixed(0)} ms`;

if (!(await stat(root).catch(() => undefined))?.isDirectory()) {
  console.error(`not a directory: ${root}`);
  process.exit(1);
}

console.log(`skein: reading Markdown under ${relative(process.cwd(), root) || '.'}\n`);
const files = await markdownFiles(root);
console.log(`found ${files.length} Markdown files`);

// 1. All of them, 16 at a time, under a generous deadline.
let start = performance.now();
const stats = await readAll(files, { timeout: 30_000 });
const fullReadMs = performance.now() - start;
const words = stats.reduce((sum, s) => sum + s.words, 0);
const bytes = stats.reduce((sum, s) => sum + s.bytes, 0);
console.log(`\n1. read ${stats.length} files (${(bytes / 1024 / 1024).toFixed(1)} MiB, ${words.toLocaleString('en-US')} words) with ${CONCURRENCY} concurrent readers in ${ms(start)}`);
const longest = [...stats].sort((a, b) => b.words - a.words).slice(0, 3);
for (const s of longest) console.log(`   ${s.words.toLocaleString('en-US').padStart(8)} words  ${relative(root, s.file)}`);

// 2. Fail-fast: one missing file among real ones. The first failure cancels the other reads,
//    and gather returns only once they have stopped.
start = performance.now();
const sample = files.slice(0, 50);
let cancelled = 0;
let completed = 0;
const failure = await gather([
  ...sample.map((file) => async (signal: AbortSignal) => {
    try {
      const s = await readStats(file, signal);
      completed++;
      return s;
    } catch (error) {
      if (isCancellation(error)) cancelled++;
      throw error;
    }
  }),
  (signal: AbortSignal) => readStats(join(root, 'this-file-does-not-exist.md'), signal),
]).catch((error: unknown) => error);
console.log(`\n2. fail-fast: ${(failure as Error).message.split(',')[0]}`);
console.log(`   ${completed} reads had finished, ${cancelled} were cancelled and stopped before gather returned (${ms(start)})`);

// 3. A deadline too short for the whole tree (a third of what step 1 took): settle mode returns
//    what finished in time and a TimeoutError for the rest.
const deadlineMs = Math.max(2, Math.round(fullReadMs / 3));
start = performance.now();
const partial = await gather(
  files.map((file) => (signal: AbortSignal) => readStats(file, signal)),
  { settle: true, timeout: deadlineMs },
);
const inTime = partial.filter((r) => r.status === 'fulfilled').length;
const late = partial.filter((r) => r.status === 'rejected' && r.reason instanceof TimeoutError).length;
console.log(`\n3. deadline of ${deadlineMs} ms over all ${files.length} files: ${inTime} finished in time, ${late} were stopped by the deadline (${ms(start)})`);

console.log('\ndone: every read finished or was stopped; nothing is left running.');
