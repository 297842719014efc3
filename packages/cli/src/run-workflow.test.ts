import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, artifactType } from 'skein/board';
import { sleep } from 'skein';
import { CliError } from './cli-error.js';
import { parseConcurrency, parseDuration } from './program.js';
import type { ProgressRenderer } from './renderer.js';
import { runWorkflow } from './run-workflow.js';
import { defineWorkflow, type WorkflowContext } from './workflow.js';

const Name = artifactType('Name', z.string());
const Greeting = artifactType('Greeting', z.string());

/** A two-agent workflow; `wait` makes the greeter wait for its signal. */
function greeter(options: { wait?: boolean; log?: string[]; seen?: (ctx: WorkflowContext) => void } = {}) {
  return defineWorkflow({
    name: 'greet',
    createBoard(ctx) {
      options.seen?.(ctx);
      const board = new Board();
      board
        .agent('greeter')
        .consumes(Name)
        .publishes(Greeting)
        .maxConcurrency(ctx.concurrency('greeter', 1))
        .handle(async ([name], { signal }) => {
          if (options.wait === true) await sleep(60_000, { signal });
          return `hello, ${name.payload}`;
        });
      board.agent('printer').consumes(Greeting).handle(() => {});
      ctx.defer(() => options.log?.push('cleanup'));
      return board;
    },
    inputs: (ctx) => (ctx.args.length > 0 ? ctx.args : ['world']).map((name) => ({ type: Name, payload: name })),
    async finish(_ctx, board) {
      const greetings = await board.store.list({ type: Greeting });
      options.log?.push(`finish ${greetings.length}`);
      return { outputs: [{ label: 'greetings', path: 'memory' }], notes: [`${greetings.length} greetings`] };
    },
  });
}

describe('runWorkflow', () => {
  it('runs a workflow to idle, calls finish, shuts down, runs cleanups and summarises', async () => {
    const log: string[] = [];
    const summary = await runWorkflow(greeter({ log }), { args: ['Ada', 'Grace', 'Edsger'] });
    expect(log).toEqual(['finish 3', 'cleanup']);
    expect(summary).toMatchObject({
      workflow: 'greet',
      status: 'completed',
      exitCode: 0,
      published: 6,
      publishedByType: { Name: 3, Greeting: 3 },
      outputs: [{ label: 'greetings', path: 'memory' }],
      notes: ['3 greetings'],
    });
    expect(summary.agents.map((a) => [a.name, a.runs, a.failed])).toEqual([
      ['greeter', 3, 0],
      ['printer', 3, 0],
    ]);
  });

  it('gives createBoard the --concurrency overrides, by agent first', async () => {
    const limits: number[] = [];
    const seen = (ctx: WorkflowContext) => limits.push(ctx.concurrency('greeter', 1), ctx.concurrency('printer', 1));
    await runWorkflow(greeter({ seen }), { concurrency: { all: 3, byAgent: { greeter: 7 } } });
    expect(limits).toEqual([7, 3]);
  });

  it('rejects an override for an agent the board lacks, after shutting the board down and cleaning up', async () => {
    const log: string[] = [];
    const error = await runWorkflow(greeter({ log }), { concurrency: { byAgent: { nobody: 2 } } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toBe("--concurrency: workflow 'greet' has no agent named 'nobody' (agents: greeter, printer)");
    expect(log).toEqual(['cleanup']);
  });

  it('rejects an override for an agent whose limit the workflow fixes itself', async () => {
    await expect(runWorkflow(greeter(), { concurrency: { byAgent: { printer: 2 } } })).rejects.toThrow(
      "--concurrency: workflow 'greet' fixes the limit of agent 'printer' itself (it does not call ctx.concurrency('printer', ...))",
    );
    const fixed = defineWorkflow({ ...greeter(), createBoard: () => new Board() });
    await expect(runWorkflow(fixed, { concurrency: { all: 2 } })).rejects.toThrow("fixes every agent's limit itself");
  });

  it('rejects a createBoard that returns no board', async () => {
    const workflow = defineWorkflow({ name: 'empty', createBoard: () => ({}) as Board, inputs: () => [] });
    await expect(runWorkflow(workflow)).rejects.toThrow("workflow 'empty': createBoard() returned no board");
  });

  it('stops when its signal aborts: in-flight runs are cancelled, finish is skipped, status interrupted', async () => {
    const log: string[] = [];
    const controller = new AbortController();
    const run = runWorkflow(greeter({ wait: true, log }), { args: ['a', 'b'], signal: controller.signal });
    await sleep(50);
    controller.abort(new Error('received SIGINT'));
    const summary = await run;
    expect(summary).toMatchObject({ status: 'interrupted', exitCode: 130, reason: 'received SIGINT; in-flight runs were cancelled' });
    expect(summary.agents[0]).toMatchObject({ name: 'greeter', runs: 0, cancelled: 2 });
    expect(log).toEqual(['cleanup']);
  });

  it('stops at its deadline with status timed-out and exit code 124', async () => {
    const summary = await runWorkflow(greeter({ wait: true }), { timeoutMs: 30 });
    expect(summary).toMatchObject({ status: 'timed-out', exitCode: 124 });
    expect(summary.reason).toContain('did not finish within 30 ms');
  });

  it('rejects with the workflow error when inputs() throws, and still cleans up', async () => {
    const log: string[] = [];
    const workflow = { ...greeter({ log }), inputs: () => Promise.reject(new Error('no such directory')) };
    await expect(runWorkflow(workflow)).rejects.toThrow('no such directory');
    expect(log).toEqual(['cleanup']);
  });

  it('still closes the renderer and runs the cleanups when the board fails to shut down, then rejects with that failure', async () => {
    const log: string[] = [];
    const workflow = greeter({ log });
    const failing = defineWorkflow({
      ...workflow,
      async createBoard(ctx) {
        const board = await workflow.createBoard(ctx);
        const shutdown = board.shutdown.bind(board);
        board.shutdown = async () => {
          await shutdown();
          throw new Error('the store did not close');
        };
        return board;
      },
    });
    const renderer: ProgressRenderer = { render: () => {}, close: () => log.push('close') };
    await expect(runWorkflow(failing, { renderer })).rejects.toThrow('the store did not close');
    expect(log).toEqual(['finish 1', 'close', 'cleanup']);
  });

  it('renders progress on every tick and closes the renderer', async () => {
    const calls: string[] = [];
    // Stopped after the third tick, however late a loaded machine's timers fire.
    const controller = new AbortController();
    const renderer: ProgressRenderer = {
      render: () => {
        calls.push('render');
        if (calls.length >= 3) controller.abort(new Error('enough'));
      },
      close: () => calls.push('close'),
    };
    await runWorkflow(greeter({ wait: true }), { renderer, tickMs: 5, signal: controller.signal });
    expect(calls.filter((c) => c === 'render').length).toBeGreaterThanOrEqual(3);
    expect(calls.at(-1)).toBe('close');
  });

  it('writes every event to the trace file as JSON lines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skein-trace-'));
    try {
      const tracePath = join(dir, 'events.jsonl');
      await runWorkflow(greeter(), { args: ['Ada'], tracePath });
      const kinds = (await readFile(tracePath, 'utf8')).trim().split('\n').map((line) => (JSON.parse(line) as { kind: string }).kind);
      // Two runs (greeter, then printer) and two artifacts; idle comes last.
      expect(kinds[0]).toBe('published');
      expect(kinds.at(-1)).toBe('idle');
      expect([...kinds].sort()).toEqual(['finished', 'finished', 'idle', 'published', 'published', 'scheduled', 'scheduled', 'started', 'started']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('validates its arguments', async () => {
    await expect(runWorkflow({} as never)).rejects.toThrow('name must be a non-empty string');
    await expect(runWorkflow(greeter(), { timeoutMs: -1 })).rejects.toThrow(RangeError);
  });
});

describe('option parsing', () => {
  it('reads --concurrency as N, agent=N or a comma-separated mix, accumulating repeats', () => {
    expect(parseConcurrency('4', undefined)).toEqual({ all: 4, byAgent: {} });
    expect(parseConcurrency('read=8, split=2', undefined)).toEqual({ byAgent: { read: 8, split: 2 } });
    expect(parseConcurrency('keywords=1', { all: 2, byAgent: { read: 8 } })).toEqual({ all: 2, byAgent: { read: 8, keywords: 1 } });
  });

  it('rejects a --concurrency that is not a positive integer', () => {
    for (const bad of ['0', 'read=0', 'read=', '=3', 'x', '1.5', '']) expect(() => parseConcurrency(bad, undefined)).toThrow(/expected N or agent=N/);
  });

  it('reads --timeout in ms, s or m, a bare number being seconds', () => {
    expect(['500ms', '90s', '2m', '1.5s', '3'].map(parseDuration)).toEqual([500, 90_000, 120_000, 1_500, 3_000]);
    for (const bad of ['soon', '0', '-1s', '5h', '']) expect(() => parseDuration(bad)).toThrow(/expected a duration/);
  });
});

describe('defineWorkflow', () => {
  it('returns the workflow and names what is missing', () => {
    const workflow = greeter();
    expect(defineWorkflow(workflow)).toBe(workflow);
    expect(() => defineWorkflow({ name: '', createBoard: () => new Board(), inputs: () => [] })).toThrow('name must be a non-empty string, got ""');
    expect(() => defineWorkflow({ name: 'x', inputs: () => [] } as never)).toThrow('createBoard must be a function, got undefined');
    expect(() => defineWorkflow({ name: 'x', createBoard: () => new Board(), inputs: () => [], finish: 3 } as never)).toThrow('finish must be a function');
  });
});
