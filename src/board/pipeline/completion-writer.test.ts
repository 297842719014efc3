import { describe, expect, it } from 'vitest';
import type { BoardStore, ClaimRef, Completion, CompletionItem, UnitResult } from '../store/contract.js';
import { CompletionWriter } from './completion.js';

const applied = (runId: string): UnitResult => ({ status: 'applied', runs: [], limited: [], duplicates: 0, nextDeadline: runId.length });
const claim = (runId: string): ClaimRef => ({ runId, owner: 'w', attempt: 1 });
const done: Completion = { outcome: 'cancelled' };

/** A store answering with promises that records how completions reach it. */
function asyncStore(options: { groupCommit?: boolean; failMany?: Error }) {
  const calls: string[][] = [];
  const store = {
    groupCommit: options.groupCommit,
    complete: async (ref: ClaimRef) => {
      calls.push([ref.runId]);
      await Promise.resolve();
      return applied(ref.runId);
    },
    completeMany: async (items: readonly CompletionItem[]) => {
      calls.push(items.map((item) => item.claim.runId));
      await Promise.resolve();
      if (options.failMany !== undefined) throw options.failMany;
      return items.map((item): PromiseSettledResult<UnitResult> => ({ status: 'fulfilled', value: applied(item.claim.runId) }));
    },
  };
  return { store: store as unknown as BoardStore, calls };
}

describe('CompletionWriter', () => {
  it('writes the completions that end in one turn together, the first included, once a groupCommit store answered with a promise', async () => {
    const { store, calls } = asyncStore({ groupCommit: true });
    const writer = new CompletionWriter(store);
    await writer.write(claim('r0'), done);
    const results = await Promise.all(['r1', 'r2', 'r3'].map(async (id) => writer.write(claim(id), done)));
    expect(calls).toEqual([['r0'], ['r1', 'r2', 'r3']]);
    expect(results.map((result) => result.nextDeadline)).toEqual([2, 2, 2]);
  });

  it('a lone completion in its turn is written by itself, with complete', async () => {
    const { store, calls } = asyncStore({ groupCommit: true });
    const writer = new CompletionWriter(store);
    await writer.write(claim('r0'), done);
    expect((await writer.write(claim('r11'), done)).nextDeadline).toBe(3);
    expect(calls).toEqual([['r0'], ['r11']]);
  });

  it('without groupCommit, the first completion of a turn goes at once and the rest wait for it', async () => {
    const { store, calls } = asyncStore({});
    const writer = new CompletionWriter(store);
    await writer.write(claim('r0'), done);
    await Promise.all(['r1', 'r2', 'r3'].map(async (id) => writer.write(claim(id), done)));
    expect(calls).toEqual([['r0'], ['r1'], ['r2', 'r3']]);
  });

  it('a grouped write that fails rejects each of its completions, and the writer goes on', async () => {
    const failure = new Error('connection lost');
    const { store, calls } = asyncStore({ groupCommit: true, failMany: failure });
    const writer = new CompletionWriter(store);
    await writer.write(claim('r0'), done);
    const outcomes = await Promise.allSettled(['r1', 'r2'].map(async (id) => writer.write(claim(id), done)));
    expect(outcomes).toEqual([
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure },
    ]);
    expect((await writer.write(claim('r4'), done)).status).toBe('applied');
    expect(calls).toEqual([['r0'], ['r1', 'r2'], ['r4']]);
  });
});
