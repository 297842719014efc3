/** runWorkflow with a durable store: resume, inputs once, refusals. In process, on SQLite files. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, MemoryStore, artifactType } from 'skein/board';
import { SqliteStore } from 'skein/board/sqlite';
import { sleep } from 'skein';
import { CliError } from './cli-error.js';
import { INPUT_TAG_PREFIX, fingerprint } from './input-ledger.js';
import type { ProgressRenderer } from './renderer.js';
import { runWorkflow } from './run-workflow.js';
import { defineWorkflow } from './workflow.js';

const Name = artifactType('Name', z.string());
const Greeting = artifactType('Greeting', z.string());

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skein-run-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Greets every name; with `holdFrom`, names from that index on wait for their signal. */
function greeter(names: readonly string[], options: { holdFrom?: number; executions?: string[] } = {}) {
  return defineWorkflow({
    name: 'greet',
    createBoard() {
      const board = new Board();
      board
        .agent('greeter')
        .consumes(Name)
        .publishes(Greeting)
        .maxConcurrency(1)
        .handle(async ([name], { signal }) => {
          options.executions?.push(name.payload);
          if (options.holdFrom !== undefined && names.indexOf(name.payload) >= options.holdFrom) await sleep(60_000, { signal });
          return `hello, ${name.payload}`;
        });
      return board;
    },
    inputs: () => names.map((name) => ({ type: Name, payload: name })),
    async finish(_ctx, board) {
      return { notes: (await board.store.list({ type: Greeting })).map((g) => g.payload) };
    },
  });
}

/** A renderer that aborts `controller` once `when()` holds (checked on every tick). */
function abortWhen(controller: AbortController, when: () => boolean): ProgressRenderer {
  return {
    render: () => {
      if (when()) controller.abort(new Error('stop'));
    },
    close: () => {},
  };
}

describe('runWorkflow with a store', () => {
  it('stopped, then run again on the same file: resumes, runs each input once, publishes each input once', async () => {
    const path = join(dir, 'resume.db');
    const names = ['a', 'b', 'c', 'd'];
    const executions: string[] = [];
    const controller = new AbortController();
    const first = await runWorkflow(greeter(names, { holdFrom: 2, executions }), {
      store: new SqliteStore({ path }),
      signal: controller.signal,
      // Once c (which holds) has started: a and b are done, d is queued.
      renderer: abortWhen(controller, () => executions.includes('c')),
      tickMs: 5,
    });
    expect(first.status).toBe('interrupted');
    expect(first.resumed).toEqual({ queued: 0, requeued: 0, gates: 0, inputs: 0 });
    expect(executions).toEqual(['a', 'b', 'c']);

    const second = await runWorkflow(greeter(names, { executions }), { store: new SqliteStore({ path }) });
    expect(second.status).toBe('completed');
    // c was handed back at the shutdown and d never started: both queued.
    expect(second.resumed).toEqual({ queued: 2, requeued: 0, gates: 0, inputs: 4 });
    expect(second.published).toBe(2);
    expect(executions).toEqual(['a', 'b', 'c', 'c', 'd']);
    expect([...second.notes].sort()).toEqual(['hello, a', 'hello, b', 'hello, c', 'hello, d']);

    const store = new SqliteStore({ path });
    const inputs = store.list({ type: Name });
    store.close();
    expect(inputs.map((a) => a.payload)).toEqual(names);
    expect(inputs.map((a) => a.tags)).toEqual(names.map((name, i) => [`${INPUT_TAG_PREFIX}${i}:${fingerprint({ type: Name, payload: name })}`]));
  });

  it('refuses to resume when the inputs changed, and when the workflow lists fewer than the store holds', async () => {
    const path = join(dir, 'changed.db');
    await runWorkflow(greeter(['a', 'b']), { store: new SqliteStore({ path }) });
    await expect(runWorkflow(greeter(['a', 'x']), { store: new SqliteStore({ path }) })).rejects.toThrow(
      new CliError(
        "input 2 (Name) is not the one this store's run published: the workflow's inputs changed since (other arguments or files?). Resume with the same inputs, or use another store to start over",
      ),
    );
    await expect(runWorkflow(greeter(['a']), { store: new SqliteStore({ path }) })).rejects.toThrow(/the workflow lists 1 inputs but this store's run published 2/);
    // More inputs than before is a run that had not published them all yet: the rest are published.
    const more = await runWorkflow(greeter(['a', 'b', 'c']), { store: new SqliteStore({ path }) });
    expect(more).toMatchObject({ status: 'completed', published: 2, resumed: { inputs: 2 } });
  });

  it('keeps the tags the workflow gives its inputs', async () => {
    const store = new MemoryStore();
    const workflow = defineWorkflow({
      name: 'tagged',
      createBoard: () => new Board(),
      inputs: () => [{ type: Name, payload: 'a', tags: ['mine'] }],
      finish: async (_ctx, board) => ({ notes: (await board.store.list({ type: Name })).map((a) => a.tags.join(' ')) }),
    });
    const summary = await runWorkflow(workflow, { store });
    expect(summary.notes).toEqual([`mine ${INPUT_TAG_PREFIX}0:${fingerprint({ type: Name, payload: 'a', tags: ['mine'] })}`]);
  });

  it('refuses a board that keeps its state elsewhere, and closes the store all the same', async () => {
    const store = new SqliteStore({ path: join(dir, 'refused.db') });
    const workflow = defineWorkflow({ name: 'own', createBoard: () => new Board({ store: new MemoryStore() }), inputs: () => [] });
    await expect(runWorkflow(workflow, { store })).rejects.toThrow(/workflow 'own': its board keeps its state in a MemoryStore of its own, so --store would be ignored/);
    await expect(Promise.resolve().then(() => store.list())).rejects.toThrow();
  });

  it('without a store, inputs are published as given: no tag, no resume', async () => {
    const summary = await runWorkflow(
      defineWorkflow({
        name: 'memory',
        createBoard: () => new Board(),
        inputs: () => [{ type: Name, payload: 'a' }],
        finish: async (_ctx, board) => ({ notes: (await board.store.list({ type: Name })).map((a) => String(a.tags.length)) }),
      }),
    );
    expect(summary.notes).toEqual(['0']);
    expect(summary.resumed).toBeUndefined();
  });
});
