import { describe, expect, it } from 'vitest';
import type { BoardEvent } from '../board/events.js';
import type { RunRecord } from '../board/store/contract.js';
import { RunHistory } from './runs.js';

const run = { agent: 'billing', correlationId: 'wf' };

function lifecycle(runId: string, end: 'finished' | 'failed' | 'cancelled', at = 1_000): BoardEvent[] {
  const events: BoardEvent[] = [
    { kind: 'scheduled', at, runId, ...run, inputIds: [`in-${runId}`] },
    { kind: 'started', at: at + 1, runId, ...run },
    { kind: 'retrying', at: at + 2, runId, ...run, attempt: 1, error: { name: 'Error', message: 'flaky' } },
  ];
  if (end === 'finished') events.push({ kind: 'finished', at: at + 10, runId, ...run, durationMs: 9, outputs: 1 });
  if (end === 'failed') events.push({ kind: 'failed', at: at + 10, runId, ...run, durationMs: 9, attempts: 3, error: { name: 'TypeError', message: 'bad input' } });
  if (end === 'cancelled') events.push({ kind: 'cancelled', at: at + 10, runId, ...run, reason: 'the workflow was cancelled' });
  return events;
}

describe('RunHistory', () => {
  it('folds each run event into the run it is about: inputs, times, retries, durations, attempts, errors', () => {
    const history = new RunHistory(100);
    for (const event of [...lifecycle('r1', 'finished'), ...lifecycle('r2', 'failed'), ...lifecycle('r3', 'cancelled')]) history.track(event);
    expect(history.list({}, [], 10)).toEqual([
      { id: 'r1', ...run, state: 'finished', inputIds: ['in-r1'], scheduledAt: 1_000, startedAt: 1_001, endedAt: 1_010, durationMs: 9, attempts: undefined, retries: 1, error: undefined },
      { id: 'r2', ...run, state: 'failed', inputIds: ['in-r2'], scheduledAt: 1_000, startedAt: 1_001, endedAt: 1_010, durationMs: 9, attempts: 3, retries: 1, error: 'TypeError: bad input' },
      { id: 'r3', ...run, state: 'cancelled', inputIds: ['in-r3'], scheduledAt: 1_000, startedAt: 1_001, endedAt: 1_010, durationMs: undefined, attempts: undefined, retries: 1, error: 'the workflow was cancelled' },
    ]);
  });

  it('keeps the newest capacity events: the oldest runs are forgotten first', () => {
    const history = new RunHistory(8); // two runs of four events
    for (const id of ['r1', 'r2', 'r3']) for (const event of lifecycle(id, 'finished')) history.track(event);
    expect(history.list({}, [], 10).map((r) => r.id)).toEqual(['r2', 'r3']);
  });

  it('keeps no progress, usage or other events, so that a chatty run does not push runs out', () => {
    const history = new RunHistory(4);
    for (const event of lifecycle('r1', 'finished')) history.track(event);
    for (let i = 0; i < 10; i++) {
      history.track({ kind: 'progress', at: 2_000, runId: 'r2', ...run, detail: { token: i } });
      history.track({ kind: 'usage', at: 2_000, runId: 'r2', ...run, usage: { tokens: i } });
      history.track({ kind: 'published', at: 2_000, artifactId: `a${i}`, type: 'Order', producedBy: 'billing', correlationId: 'wf' });
      history.track({ kind: 'idle', at: 2_000 });
    }
    expect(history.list({}, [], 10)).toMatchObject([{ id: 'r1', state: 'finished', durationMs: 9 }]);
  });

  it('filters by workflow and agent, merges the runs the store holds, and returns the newest limit', () => {
    const history = new RunHistory(100);
    for (const event of lifecycle('r1', 'finished')) history.track(event);
    history.track({ kind: 'scheduled', at: 3_000, runId: 'r2', agent: 'archive', correlationId: 'other', inputIds: [] });
    history.track({ kind: 'started', at: 3_001, runId: 'r3', ...run });
    const stored: RunRecord[] = [
      { id: 'r3', ...run, subscription: 0, enqueuedAt: 2_900, state: 'running', inputIds: ['x'], attempt: 2 },
      { id: 'r1', ...run, subscription: 0, enqueuedAt: 900, state: 'running', inputIds: ['in-r1'], attempt: 1 }, // ended since the store was read
    ];
    expect(history.list({ correlationId: 'other' }, [], 10).map((r) => r.id)).toEqual(['r2']);
    expect(history.list({ agent: 'archive' }, [], 10).map((r) => r.id)).toEqual(['r2']);
    const merged = history.list({ correlationId: 'wf' }, stored, 10);
    expect(merged).toMatchObject([
      { id: 'r1', state: 'finished' },
      { id: 'r3', state: 'running', startedAt: 3_001, inputIds: ['x'], attempts: 2 },
    ]);
    expect(history.list({}, [], 2).map((r) => r.id)).toEqual(['r2', 'r3']);
  });
});
