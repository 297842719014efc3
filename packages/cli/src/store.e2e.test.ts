/**
 * `skein run --store` as a user runs it: real processes on a SQLite file, interrupted and run again.
 * Every child is awaited; one still running when a test ends is killed.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from 'skein/board/sqlite';
import { cli, count, killChildren, root, startProcess } from './fixtures/cli-process.js';

// Each test starts Node with tsx (seconds on a loaded 2-core machine), some of them twice.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

const durable = fileURLToPath(new URL('./fixtures/durable.workflow.ts', import.meta.url));
let dir: string;
let docs: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skein-cli-store-'));
  docs = join(dir, 'docs');
  await mkdir(docs, { recursive: true });
  for (let i = 0; i < 6; i++) {
    await writeFile(join(docs, `doc-${i}.md`), `# Document ${i}\n\nDocument ${i} explains widgets and gadgets in detail. Widgets need gadgets to work.\n`);
  }
});

afterEach(killChildren);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('skein run --store sqlite:', () => {
  it('runs the example job unchanged on a SQLite file, which then holds its artifacts; run again, it resumes nothing and redoes nothing', async () => {
    const db = join(dir, 'report.db');
    const report = join(dir, 'report.md');
    const first = await cli(['run', 'examples/markdown-report.ts', docs, report, '--store', `sqlite:${db}`]);
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^markdown-report completed in/m);
    expect(first.stderr).toContain('resumed: nothing to resume (a new run)\n');
    expect(first.stdout).toMatch(/^ {2}digest +6 +0 /m);
    expect(await readFile(report, 'utf8')).toContain('6 Markdown documents');

    const store = new SqliteStore({ path: db });
    try {
      expect(store.list({ type: 'Document' })).toHaveLength(6);
      expect(store.list({ type: 'Digest' })).toHaveLength(6);
      expect(store.listRuns()).toEqual([]);
    } finally {
      store.close();
    }

    // The same command again: every input is in the store, so nothing is published or run; the
    // report is written again from what the store holds.
    await rm(report);
    const again = await cli(['run', 'examples/markdown-report.ts', docs, report, '--store', `sqlite:${db}`, '--json', '--quiet']);
    expect(again.code).toBe(0);
    const summary = JSON.parse(again.stdout) as { published: number; resumed: unknown; agents: { runs: number }[] };
    expect(summary.resumed).toEqual({ queued: 0, requeued: 0, gates: 0, inputs: 6 });
    expect(summary.published).toBe(0);
    expect(summary.agents.every((agent) => agent.runs === 0)).toBe(true);
    expect(await readFile(report, 'utf8')).toContain('6 Markdown documents');
  });

  it('a relative sqlite: path is relative to the directory the command runs in', async () => {
    const relativeDir = await mkdtemp(join(dir, 'relative-'));
    // tsx is resolved from here, not from the directory the command runs in.
    const { code, stdout } = await startProcess(
      process.execPath,
      ['--import', pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href, join(root, 'packages/cli/src/bin.ts'), 'run', join(root, 'examples/greet.ts'), 'Ada', '--store', 'sqlite:./greet.db', '--quiet'],
      // The checkout's tsconfig maps skein to its sources; tsx looks for one in the cwd otherwise.
      { cwd: relativeDir, env: { ...process.env, NO_COLOR: '1', TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') } },
    ).done;
    expect(code).toBe(0);
    expect(stdout).toMatch(/^greet completed/);
    const store = new SqliteStore({ path: join(relativeDir, 'greet.db') });
    try {
      expect(store.list({ type: 'Greeting' }).map((g) => g.payload)).toEqual(['hello, Ada']);
    } finally {
      store.close();
    }
  });

  it('Ctrl-C, then the same command again: resumes where it stopped, redoes no finished run, republishes no input, says what it resumed', async () => {
    const runDir = await mkdtemp(join(dir, 'resume-'));
    const log = join(runDir, 'executions.log');
    const args = ['run', durable, log, '--store', `sqlite:${join(runDir, 'run.db')}`];
    // While the hold file exists, jobs 5 and up wait for their signal: the interrupt lands with jobs
    // 1 to 4 done and recorded, 5 and 6 running and 7 to 10 queued, however slow the machine.
    await writeFile(`${log}.hold`, '');
    let sent = false;
    const first = await cli(args, (text, child) => {
      if (!sent && text.includes('start 5') && text.includes('start 6') && [1, 2, 3, 4].every((n) => text.includes(`recorded ${n}\n`))) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(first.code).toBe(130);
    expect(first.stdout).toContain('durable interrupted in');
    const before = await readFile(log, 'utf8');
    await rm(`${log}.hold`);

    const second = await cli(args);
    expect(second.code).toBe(0);
    // The view says it on stderr as soon as it is known, and the summary repeats it.
    expect(second.stderr).toContain('resumed: 6 queued, 0 requeued, 0 gates; 10 inputs published before\n');
    expect(second.stdout).toContain('  resumed: 6 queued, 0 requeued, 0 gates; 10 inputs published before\n');
    expect(second.stdout).toMatch(/^ {2}work +6 +0 +0 /m);
    // Inputs published once in all: the store holds 10 jobs and 10 results.
    expect(second.stdout).toContain('jobs 10, done 10');
    const after = (await readFile(log, 'utf8')).slice(before.length);
    for (let n = 1; n <= 4; n++) {
      // Finished in the first process: not run again.
      expect(count(after, `start ${n}`)).toBe(0);
      expect(count(before + after, `recorded ${n}`)).toBe(1);
    }
    for (let n = 5; n <= 10; n++) {
      expect(count(after, `start ${n}`)).toBe(1);
      expect(count(before + after, `recorded ${n}`)).toBe(1);
    }
  });
});

describe('skein run --store: bad values', () => {
  it.each([
    ['an unknown scheme', ['--store', 'mysql://localhost/db'], "option '--store <url>' argument 'mysql://localhost/db' is invalid. expected a URL starting with sqlite:, postgres://, postgresql://"],
    ['a bare path', ['--store', './run.db'], 'expected a URL starting with sqlite:'],
    ['sqlite: without a file', ['--store', 'sqlite:'], 'expected a file after sqlite:'],
    ['an unknown SQLite parameter', ['--store', 'sqlite:./x.db?fast=yes'], 'skein: --store sqlite:./x.db?fast=yes: unknown SQLite store URL parameter "fast"'],
    ['a bad PostgreSQL schema', ['--store', 'postgres://localhost/db?schema=Bad-Name'], "?schema= must be a lower-case SQL identifier"],
    // package.json is a file: no directory can be made under it (not even by root).
    ['a SQLite file where no directory can be', ['--store', 'sqlite:package.json/run.db'], `skein: --store sqlite:package.json/run.db: cannot open ${join(root, 'package.json/run.db')}: EEXIST`],
  ])('%s prints one clear line and exits 2', async (_case, flags, message) => {
    const { code, stdout, stderr } = await cli(['run', 'examples/greet.ts', ...flags]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(message);
  });

  it('a PostgreSQL server that cannot be reached is one line without the password, exit 2', async () => {
    const { code, stderr } = await cli(['run', 'examples/greet.ts', '--store', 'postgres://skein:s3cret@127.0.0.1:1/nothing']);
    expect(code).toBe(2);
    expect(stderr).toContain('skein: --store postgres://skein:***@127.0.0.1:1/nothing: cannot open the PostgreSQL store: ');
    expect(stderr).not.toContain('s3cret');
  });

  it('a workflow whose board brings a store of its own is refused, naming the fix', async () => {
    const { code, stdout, stderr } = await cli(['run', 'packages/cli/src/fixtures/own-store.workflow.ts', '--store', `sqlite:${join(dir, 'own.db')}`]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("skein: workflow 'own': its board keeps its state in a MemoryStore of its own, so --store would be ignored");
  });
});
