/**
 * `skein worker` and `skein run --no-work` on PostgreSQL, as real processes: one run publishing and
 * watching, workers running, one of them stopped with SIGTERM. Needs SKEIN_TEST_POSTGRES_URL; each
 * test uses a schema of its own, dropped after.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PostgresStore } from 'skein/board/postgres';
import { count, killChildren, startCli, type RunningCli } from './fixtures/cli-process.js';

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

const POSTGRES_URL = process.env.SKEIN_TEST_POSTGRES_URL;
const durable = fileURLToPath(new URL('./fixtures/durable.workflow.ts', import.meta.url));
/** Starts the CLI; a test waits on what it writes to stderr. */
const start = (args: readonly string[]): RunningCli => startCli(args);

let dir: string;
let schema: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skein-cli-worker-'));
});

afterEach(async () => {
  await killChildren();
  if (POSTGRES_URL !== undefined && schema !== undefined) {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`drop schema if exists "${schema}" cascade`);
    } finally {
      await client.end();
    }
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(POSTGRES_URL === undefined)('skein worker and skein run --no-work on PostgreSQL', () => {
  it('a worker stopped with SIGTERM exits 143 and hands its runs back; two more workers finish the run, which only published and watched', async () => {
    schema = `skein_cli_${process.pid}_${Date.now().toString(36)}`;
    const url = `${POSTGRES_URL!}${POSTGRES_URL!.includes('?') ? '&' : '?'}schema=${schema}`;
    const log = join(dir, `${schema}.log`);
    const workflow = [durable, log, '--store', url];
    // While the hold file exists, jobs 5 and up wait for their signal (see the fixture).
    await writeFile(`${log}.hold`, '');

    const run = start(['run', ...workflow, '--no-work']);
    const first = start(['worker', ...workflow]);
    const up = ({ stderr }: { stderr: string }) => stderr.includes('skein worker durable: working on');
    await first.until(({ stderr: text }) => text.includes('start 5') && text.includes('start 6') && [1, 2, 3, 4].every((n) => text.includes(`recorded ${n}\n`)));
    first.child.kill('SIGTERM');
    const stopped = await first.done;
    expect(stopped.code).toBe(143);
    expect(stopped.stdout).toContain('received SIGTERM; in-flight runs were handed back to the store');
    expect(stopped.stdout).toMatch(/^ {2}work +4 +0 +2 /m);

    // Jobs 5 and 6 are back in the queue, with 7 to 10: nothing is left running.
    const store = await PostgresStore.open({ connectionString: POSTGRES_URL!, schema, poolSize: 1 });
    try {
      const runs = await store.listRuns();
      expect(runs.map((r) => [r.agent, r.state])).toEqual(Array.from({ length: 6 }, () => ['work', 'queued']));
    } finally {
      await store.close();
    }

    await rm(`${log}.hold`);
    const second = start(['worker', ...workflow]);
    const third = start(['worker', ...workflow]);
    const result = await run.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^durable completed in/m);
    expect(result.stdout).toContain('jobs 10, done 10');
    expect(result.stdout).not.toContain('never ended');
    // The view showed what the store said of every worker.
    expect(result.stderr).toMatch(/all workers: \d+ queued, \d+ running on \d+ workers?, 0 timed gates/);

    // Each worker stops in order once it is up (before that, SIGTERM's default would just kill it).
    await Promise.all([second.until(up), third.until(up)]);
    second.child.kill('SIGTERM');
    third.child.kill('SIGTERM');
    expect((await second.done).code).toBe(143);
    expect((await third.done).code).toBe(143);

    const executions = await readFile(log, 'utf8');
    for (let n = 1; n <= 10; n++) expect(count(executions, `recorded ${n}`)).toBe(1);
    for (const n of [1, 2, 3, 4, 7, 8, 9, 10]) expect(count(executions, `start ${n}`)).toBe(1);
    // 5 and 6 ran on the first worker until it stopped, then again on another.
    for (const n of [5, 6]) expect(count(executions, `start ${n}`)).toBe(2);
  });
});

describe('skein worker: bad input', () => {
  it('needs --store, and --no-work needs it too: one line, exit 2', async () => {
    const worker = await start(['worker', 'examples/greet.ts']).done;
    expect(worker.code).toBe(2);
    expect(worker.stderr.trim()).toBe("skein: required option '--store <url>' not specified");
    const run = await start(['run', 'examples/greet.ts', '--no-work']).done;
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('skein: --no-work needs --store (the store the workers share)');
  });
});
