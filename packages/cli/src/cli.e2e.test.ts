/**
 * `skein run` as a user runs it: a child process (Node with tsx's loader, as `npm start` uses), its
 * exit code, stdout and stderr. Output is piped, so the CLI takes its non-TTY path. Every child is
 * awaited; one still running when a test ends is killed.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cli, killChildren, startProcess } from './fixtures/cli-process.js';
import { DUPLICATE_SIGNAL_WINDOW_MS } from './signal-coalescer.js';

// Each test starts Node with tsx, which takes seconds on a loaded 2-core machine: the suite's 20 s
// default is for tests that do not spawn processes.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
let dir: string;
let docs: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skein-cli-'));
  docs = join(dir, 'docs');
  await mkdir(join(docs, 'nested'), { recursive: true });
  await writeFile(
    join(docs, 'alpha.md'),
    '# Alpha\n\nAlpha parsers read configuration files quickly. Parsers are tested against many configuration formats.\n\n## Usage\n\nCall the parser with a configuration path. It returns the parsed configuration.\n',
  );
  await writeFile(join(docs, 'nested', 'beta.md'), '# Beta\n\nBeta caches compiled templates in memory. Templates are recompiled when their source changes.\n');
  await writeFile(join(docs, 'notes.txt'), 'not markdown');
  for (let i = 0; i < 10; i++) {
    await writeFile(join(docs, `doc-${i}.md`), `# Document ${i}\n\nDocument ${i} explains widgets and gadgets in detail. Widgets need gadgets to work.\n`);
  }
});

afterEach(killChildren);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('skein run examples/markdown-report.ts on a fixture directory', () => {
  it('exits 0, prints the summary table and writes a report of every Markdown file', async () => {
    const report = join(dir, 'out', 'report.md');
    const { code, stdout, stderr } = await cli(['run', 'examples/markdown-report.ts', docs, report]);
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^markdown-report completed in .+: \d+ artifacts published$/m);
    for (const agent of ['read', 'split', 'summarise', 'keywords', 'digest']) {
      expect(stdout).toMatch(new RegExp(`^  ${agent} +12 +0 +0 +\\d+ +\\S+ m?s +\\S+ m?s$`, 'm'));
    }
    expect(stdout).toMatch(/^report: .*out\/report\.md$/m);
    const text = await readFile(report, 'utf8');
    expect(text).toContain('12 Markdown documents');
    expect(text).toContain('## alpha.md');
    expect(text).toContain('## nested/beta.md');
    expect(text).not.toContain('notes.txt');
    expect(text).toMatch(/Keywords: .*configuration/);
    expect(text).toContain('> Alpha parsers read configuration files quickly.');
  });

  it('shows the retries of the reader that fails transiently on a fixed subset of files', async () => {
    const { code, stdout } = await cli(['run', 'examples/markdown-report.ts', docs, join(dir, 'retries.md'), '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as { agents: { name: string; runs: number; failed: number; retries: number }[] };
    const read = summary.agents.find((a) => a.name === 'read')!;
    expect(read).toMatchObject({ runs: 12, failed: 0 });
    expect(read.retries).toBeGreaterThan(0);
  });

  it('--json prints only the machine-readable summary on stdout', async () => {
    const report = join(dir, 'json.md');
    const { code, stdout } = await cli(['run', 'examples/markdown-report.ts', docs, report, '--json', '--quiet']);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      workflow: 'markdown-report',
      status: 'completed',
      exitCode: 0,
      publishedByType: { Document: 12, Source: 12, Summary: 12, Keywords: 12, Digest: 12 },
      outputs: [{ label: 'report', path: expect.stringMatching(/json\.md$/) }],
    });
    expect((summary.agents as unknown[]).length).toBe(5);
  });

  it('--quiet prints no progress, only the result line and the outputs', async () => {
    const { code, stdout, stderr } = await cli(['run', 'examples/markdown-report.ts', docs, join(dir, 'quiet.md'), '--quiet']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout.trim().split('\n')).toEqual([expect.stringMatching(/^markdown-report completed in/), expect.stringMatching(/^report: .*quiet\.md$/)]);
  });

  it('--trace writes every event as a JSON line', async () => {
    const trace = join(dir, 'trace', 'events.jsonl');
    const { code } = await cli(['run', 'examples/markdown-report.ts', docs, join(dir, 'traced.md'), '--quiet', '--trace', trace]);
    expect(code).toBe(0);
    const events = (await readFile(trace, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { kind: string; agent?: string });
    expect(events.filter((e) => e.kind === 'finished' && e.agent === 'digest')).toHaveLength(12);
    expect(events.at(-1)?.kind).toBe('idle');
  });
});

describe('skein run: progress without a terminal', () => {
  it('prints plain progress lines at most once a second on stderr, and the summary on stdout', async () => {
    let interrupted = false;
    const progressLines = (text: string) => text.split('\n').filter((line) => line.startsWith('['));
    const { stdout, stderr } = await cli(['run', fixture('slow.workflow.ts')], (text, child) => {
      // Let it run long enough for three progress lines, then stop it.
      if (!interrupted && progressLines(text).length >= 3) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const lines = progressLines(stderr);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.at(-1)).toMatch(/^\[ *\d\.\d s\] published 5, inputs 5\/5 \| wait 0 done, 2 running, 3 queued$/);
    const seconds = lines.map((line) => {
      const [, value, unit] = /^\[ *([\d.]+) (ms|s)\]/.exec(line)!;
      return Number(value) / (unit === 'ms' ? 1000 : 1);
    });
    // One decimal is shown: lines a second apart differ by at least 0.9 on screen.
    for (let i = 1; i < seconds.length; i++) expect(seconds[i]! - seconds[i - 1]!).toBeGreaterThanOrEqual(0.9);
    expect(stderr).not.toContain('\u001b[');
    expect(stdout).toMatch(/^slow interrupted/);
  });
});

/** util-linux `script` runs a command in a pseudo-terminal: the CLI then takes its TTY path. */
const hasScript = spawnSync('script', ['--version']).status === 0;

describe('skein run: progress in a terminal', () => {
  // A pseudo-terminal from `script` has no size: this also checks that the view still draws then.
  it.skipIf(!hasScript)('redraws one frame in place, then replaces it with the summary and shows the cursor again', async () => {
    const command = `${process.execPath} --import tsx packages/cli/src/bin.ts run ${fixture('slow.workflow.ts')} --timeout 8s`;
    const { code, stdout: output } = await startProcess('script', ['-qec', command, '/dev/null'], { env: { ...process.env, NO_COLOR: '1' } }).done;
    expect(code).toBe(124);
    const frames = output.split('skein run slow').length - 1;
    expect(frames).toBeGreaterThanOrEqual(3);
    // Each new frame first erases the previous one (erase line, cursor up), and the cursor comes back.
    expect(output).toContain('\u001b[2K\u001b[1A');
    expect(output).toContain('\u001b[?25h');
    expect(output).toMatch(/slow timed out in .*: 5 artifacts published/);
    expect(output).toMatch(/ {2}wait +3 +2 +0 +0 +0 +0\.0/);
  });
});

describe('skein run: Ctrl-C and SIGTERM', () => {
  it('on SIGINT aborts the runs in flight, waits for them, prints what finished and exits 130', async () => {
    let sent = false;
    const { code, stdout, stderr } = await cli(['run', fixture('slow.workflow.ts')], (text, child) => {
      if (!sent && text.includes('started 1') && text.includes('started 2')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(code).toBe(130);
    // Both running runs saw the abort and finished their cleanup before the summary and the cleanups.
    expect(stderr).toMatch(/stopped 1[\s\S]*cleanup ran/);
    expect(stderr).toMatch(/stopped 2[\s\S]*cleanup ran/);
    expect(stderr).not.toContain('started 3');
    expect(stdout).toContain('slow interrupted in');
    expect(stdout).toContain('received SIGINT; in-flight runs were cancelled');
    expect(stdout).toMatch(/^ {2}wait +0 +0 +5 +0 +- +-$/m);
  });

  it('on SIGINT stops the real job mid-run, writes no report and exits 130', async () => {
    const report = join(dir, 'interrupted.md');
    let sentAt = 0;
    // The real job, held open by one extra agent until aborted: it cannot finish before the signal,
    // however fast the machine. The signal goes once reads are done and the holder runs.
    const { code, stdout } = await cli(['run', fixture('held-markdown-report.workflow.ts'), docs, report, '--concurrency', 'read=1'], (text, child) => {
      if (sentAt === 0 && text.includes('holding') && /read [1-9]\d* done/.test(text)) {
        sentAt = Date.now();
        child.kill('SIGINT');
      }
    });
    expect(code).toBe(130);
    expect(Date.now() - sentAt).toBeLessThan(5_000);
    expect(stdout).toContain('markdown-report interrupted in');
    expect(stdout).toMatch(/^ {2}read +[1-9]\d* +0 +\d+ /m);
    expect(stdout).toMatch(/^ {2}hold +0 +0 +1 /m);
    await expect(readFile(report, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('after the grace period, runs that ignore their signal are named in the summary, and it still exits 130', async () => {
    let sent = false;
    const { code, stdout, stderr } = await cli(['run', fixture('slow.workflow.ts'), 'stubborn'], (text, child) => {
      if (!sent && text.includes('started 2')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(code).toBe(130);
    expect(stderr).toContain('cleanup ran');
    expect(stdout).toContain('slow interrupted in');
    expect(stdout).toContain('runs that never ended (they ignored the abort past the grace period): 2 of wait');
  });

  it('a second Ctrl-C exits at once while runs that ignore their signal are still being waited for', async () => {
    let signals = 0;
    let secondAt = 0;
    const { code, stderr } = await cli(['run', fixture('slow.workflow.ts'), 'stubborn'], (text, child) => {
      if (signals === 0 && text.includes('started 2')) {
        signals++;
        child.kill('SIGINT');
      } else if (signals === 1 && text.includes('abort seen 2')) {
        signals++;
        // The first signal was handled before 'abort seen' was written: past the window, a new
        // SIGINT is a second keypress, not a relayed copy of the first.
        setTimeout(() => {
          secondAt = Date.now();
          child.kill('SIGINT');
        }, DUPLICATE_SIGNAL_WINDOW_MS + 200);
      }
    });
    expect(code).toBe(130);
    expect(Date.now() - secondAt).toBeLessThan(1_500);
    expect(stderr).toContain('received SIGINT during shutdown: exiting without waiting');
    expect(stderr).not.toContain('stopped 1');
  });

  it('counts a SIGINT repeated at once (as npm and tsx relay one Ctrl-C) as one: the shutdown completes with the summary', async () => {
    let sent = false;
    const { code, stdout, stderr } = await cli(['run', fixture('slow.workflow.ts')], (text, child) => {
      if (!sent && text.includes('started 2')) {
        sent = true;
        // The terminal's copy and the relayed copies of one keypress.
        child.kill('SIGINT');
        child.kill('SIGINT');
        child.kill('SIGINT');
      }
    });
    expect(code).toBe(130);
    expect(stderr).not.toContain('exiting without waiting');
    expect(stderr).toMatch(/stopped 2[\s\S]*cleanup ran/);
    expect(stdout).toContain('received SIGINT; in-flight runs were cancelled');
  });

  it('on SIGTERM exits 143', async () => {
    let sent = false;
    const { code, stdout } = await cli(['run', fixture('slow.workflow.ts'), '--quiet'], (text, child) => {
      if (!sent && text.includes('started 1')) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    expect(code).toBe(143);
    expect(stdout).toMatch(/^slow interrupted/);
  });

  it('--timeout stops the run, summarises it and exits 124', async () => {
    // The deadline counts from the start, loading included: long enough for a loaded machine to load the module.
    const { code, stdout } = await cli(['run', fixture('slow.workflow.ts'), '--timeout', '8s', '--json']);
    expect(code).toBe(124);
    expect(JSON.parse(stdout)).toMatchObject({ status: 'timed-out', exitCode: 124, reason: expect.stringContaining('within 8.0 s') });
  });
});

describe('skein run: a workflow that fails to load', () => {
  /** Writes `files` into a fresh directory (a package of the given type) and returns its path. */
  async function workflowDir(type: 'module' | 'commonjs', files: Record<string, string>): Promise<string> {
    const target = await mkdtemp(join(dir, `load-${type}-`));
    await writeFile(join(target, 'package.json'), JSON.stringify({ type }));
    for (const [name, text] of Object.entries(files)) await writeFile(join(target, name), text);
    return target;
  }

  it('prints the whole TypeScript syntax error with file, line and column and the source line, and exits 2', async () => {
    const target = await workflowDir('module', { 'flow.ts': "const a = 1;\nexport default {\n  name: 'x' +,\n};\n" });
    const { code, stdout, stderr } = await cli(['run', join(target, 'flow.ts')]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).not.toContain('Transform failed');
    expect(stderr).toContain(`skein: could not load ${join(target, 'flow.ts')}: ${join(target, 'flow.ts')}:3:14: Unexpected ","\n  3 |   name: 'x' +,\n    |              ^\n`);
  });

  it('prints a JavaScript syntax error with its place, although Node gives none for an ES module', async () => {
    const target = await workflowDir('module', { 'flow.mjs': "const a = 1;\nexport default { name: 'x' + };\n" });
    const { code, stderr } = await cli(['run', join(target, 'flow.mjs')]);
    expect(code).toBe(2);
    expect(stderr).toContain("SyntaxError: Unexpected token '}'\n");
    expect(stderr).toContain(`  at ${join(target, 'flow.mjs')}:2:30\n  2 | export default { name: 'x' + };\n`);
  });

  it('prints every line of an error thrown at import and where in the file it was thrown', async () => {
    const target = await workflowDir('module', {
      'flow.ts': "const where: string = 'config';\nif (where) {\n  throw new Error('config missing\\nset SKEIN_CONFIG');\n}\nexport default {};\n",
    });
    const { code, stderr } = await cli(['run', join(target, 'flow.ts')]);
    expect(code).toBe(2);
    expect(stderr).toContain('config missing\nset SKEIN_CONFIG\n');
    expect(stderr).toContain(`  at ${join(target, 'flow.ts')}:3:9\n`);
  });

  it('--timeout ends an endless loop at import: the watchdog says so on stderr and kills the process', async () => {
    const target = await workflowDir('module', { 'flow.ts': "process.stderr.write('looping\\n');\nfor (;;) {}\nexport default {};\n" });
    const { code, signal, stderr } = await cli(['run', join(target, 'flow.ts'), '--timeout', '500ms']);
    expect([code, signal]).toEqual([null, 'SIGKILL']);
    expect(stderr).toContain(
      `skein: could not load ${join(target, 'flow.ts')} within 500 ms (--timeout): its top-level code never yields (an endless loop?), so the process was killed`,
    );
  });

  it('--timeout covers a top-level await that waits longer than the deadline', async () => {
    const target = await workflowDir('module', { 'flow.ts': 'await new Promise((resolve) => setTimeout(resolve, 600_000));\nexport default {};\n' });
    const { code, stderr } = await cli(['run', join(target, 'flow.ts'), '--timeout', '500ms']);
    expect(code).toBe(124);
    expect(stderr).toContain(`skein: could not load ${join(target, 'flow.ts')} within 500 ms (--timeout): its top-level code was still waiting\n`);
  });

  it('says so when a top-level await never settles, instead of exiting 13 in silence', async () => {
    const target = await workflowDir('module', { 'flow.ts': 'await new Promise(() => {});\nexport default {};\n' });
    const { code, stderr } = await cli(['run', join(target, 'flow.ts')]);
    expect(code).toBe(2);
    expect(stderr).toContain(`skein: could not load ${join(target, 'flow.ts')}: its top-level await never settled`);
  });

  it('loads and runs a .ts workflow in a package without "type": "module"', async () => {
    const { code, stdout, stderr } = await cli(['run', fixture('commonjs/greet.workflow.ts')]);
    expect(stderr).toContain('hello, cjs');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^commonjs-greet completed in/);
  });
});

describe('skein run: failures and bad input', () => {
  it('exits 1 when a run failed for good, and the summary shows failures and retries', async () => {
    const { code, stdout } = await cli(['run', fixture('failing.workflow.ts')]);
    expect(code).toBe(1);
    expect(stdout).toContain('failing completed with failures');
    expect(stdout).toMatch(/^ {2}work +4 +2 +0 +2 /m);
  });

  it('says in a pipe why runs failed: per agent the count and the first errors, and where the dead letters are', async () => {
    const { code, stdout } = await cli(['run', fixture('failing.workflow.ts')]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^ {2}work: 2 runs failed for good\n {4}job [13] is odd \(1x\)\n {4}job [13] is odd \(1x\)$/m);
    expect(stdout).toContain("  dead letters: 2 in the board's MemoryStore, which ends with this process");
    expect(stdout).toContain('--trace <file>');
  });

  it('--json lists the errors per agent and the dead letters', async () => {
    const { code, stdout } = await cli(['run', fixture('failing.workflow.ts'), '--json', '--quiet']);
    expect(code).toBe(1);
    const summary = JSON.parse(stdout) as { agents: { name: string; errors: unknown[] }[]; deadLetters: unknown };
    expect(summary.agents.find((a) => a.name === 'work')?.errors).toEqual(
      expect.arrayContaining([
        { message: 'job 1 is odd', count: 1 },
        { message: 'job 3 is odd', count: 1 },
      ]),
    );
    expect(summary.deadLetters).toEqual({ count: 2, store: 'MemoryStore', durable: false });
  });

  it.each([
    ['a missing file', ['run', 'does-not-exist.ts'], 'skein: workflow file not found: does-not-exist.ts'],
    ['a directory', ['run', 'examples'], 'skein: workflow must be a file, but examples is a directory'],
    ['a module that exports no workflow', ['run', 'packages/cli/src/fixtures/not-a-workflow.ts'], 'skein: packages/cli/src/fixtures/not-a-workflow.ts exports no workflow'],
    ['a module that exports a board instead of a workflow', ['run', 'packages/cli/src/fixtures/exports-board.ts'], 'skein: packages/cli/src/fixtures/exports-board.ts exports a board, not a workflow'],
    ['a workflow whose createBoard returns no board', ['run', 'packages/cli/src/fixtures/no-board.workflow.ts'], "skein: workflow 'no-board': createBoard() returned no board"],
    ['an unknown flag', ['run', 'examples/markdown-report.ts', '--frobnicate'], "skein: unknown option '--frobnicate'"],
    ['an unknown command', ['frobnicate'], "skein: unknown command 'frobnicate'"],
    ['a bad --concurrency', ['run', 'examples/markdown-report.ts', '--concurrency', 'read=0'], "argument 'read=0' is invalid"],
    ['a --concurrency for an agent the workflow lacks', ['run', 'packages/cli/src/fixtures/failing.workflow.ts', '-c', 'nobody=2'], "has no agent named 'nobody' (agents: work, log)"],
    ['a bad --timeout', ['run', 'examples/markdown-report.ts', '--timeout', 'soon'], "argument 'soon' is invalid"],
  ])('%s prints one clear line and exits 2', async (_case, args, message) => {
    const { code, stdout, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(message);
  });

  it('--help and --version print to stdout and exit 0', async () => {
    const help = await cli(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: skein run [options] <workflow> [args...]');
    for (const option of ['--concurrency', '--timeout', '--quiet', '--json', '--trace']) expect(help.stdout).toContain(option);
    const version = await cli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
