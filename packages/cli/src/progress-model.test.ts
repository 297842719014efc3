import { describe, expect, it } from 'vitest';
import type { BoardEvent } from 'skein/board';
import { RunTimes } from './run-times.js';
import { ProgressModel } from './progress-model.js';

const run = (agent: string, runId: string) => ({ agent, runId, correlationId: 'c1' });
const scheduled = (agent: string, runId: string, at = 0): BoardEvent => ({ kind: 'scheduled', at, inputIds: [], ...run(agent, runId) });
const started = (agent: string, runId: string, at = 0): BoardEvent => ({ kind: 'started', at, ...run(agent, runId) });
const finished = (agent: string, runId: string, durationMs: number, at = 0): BoardEvent => ({ kind: 'finished', at, durationMs, outputs: 1, ...run(agent, runId) });
const failed = (agent: string, runId: string, durationMs: number, at = 0): BoardEvent => ({
  kind: 'failed',
  at,
  durationMs,
  attempts: 3,
  error: { name: 'Error', message: 'disk on fire' },
  ...run(agent, runId),
});

function agent(model: ProgressModel, name: string, now = 0) {
  return model.snapshot(now).agents.find((a) => a.name === name);
}

describe('ProgressModel', () => {
  it('sums usage events per agent into its timings, and leaves usage out for agents that reported none', () => {
    const model = new ProgressModel(0);
    model.apply(scheduled('idle', 'r0'));
    model.apply({ kind: 'usage', at: 1, usage: { totalTokens: 30, requests: 1 }, ...run('ask', 'r1') });
    model.apply({ kind: 'usage', at: 2, usage: { totalTokens: 12, requests: 1 }, ...run('ask', 'r2') });
    const timings = model.timings();
    expect(timings.find((t) => t.name === 'ask')?.usage).toEqual({ totalTokens: 42, requests: 2 });
    expect(timings.find((t) => t.name === 'idle')).not.toHaveProperty('usage');
  });

  it('moves a run from queued to running to done', () => {
    const model = new ProgressModel(0);
    model.apply(scheduled('split', 'r1'));
    expect(agent(model, 'split')).toMatchObject({ queued: 1, running: 0, done: 0 });
    model.apply(started('split', 'r1'));
    expect(agent(model, 'split')).toMatchObject({ queued: 0, running: 1, done: 0 });
    model.apply(finished('split', 'r1', 5));
    expect(agent(model, 'split')).toMatchObject({ queued: 0, running: 0, done: 1, failed: 0 });
  });

  it('counts a final failure once, whatever the attempts, and keeps the last failures for the view', () => {
    const model = new ProgressModel(0);
    model.apply(scheduled('read', 'r1'));
    model.apply(started('read', 'r1'));
    model.apply({ kind: 'retrying', at: 1, attempt: 2, error: { name: 'Error', message: 'flaky' }, ...run('read', 'r1') });
    model.apply({ kind: 'retrying', at: 2, attempt: 3, error: { name: 'Error', message: 'flaky' }, ...run('read', 'r1') });
    model.apply(failed('read', 'r1', 30));
    expect(agent(model, 'read')).toMatchObject({ running: 0, failed: 1, retries: 2, done: 0 });
    expect(model.snapshot(0).recentFailures).toEqual(['read: disk on fire']);
    expect(model.timings()[0]).toMatchObject({ runs: 1, failed: 1, retries: 2 });
  });

  it('takes a cancelled run out of queued or running, wherever it was', () => {
    const model = new ProgressModel(0);
    model.apply(scheduled('a', 'queued-run'));
    model.apply(scheduled('a', 'running-run'));
    model.apply(started('a', 'running-run'));
    model.apply({ kind: 'cancelled', at: 1, reason: 'shutdown', ...run('a', 'queued-run') });
    model.apply({ kind: 'cancelled', at: 1, reason: 'shutdown', ...run('a', 'running-run') });
    expect(agent(model, 'a')).toMatchObject({ queued: 0, running: 0, cancelled: 2 });
  });

  it('counts runs still queued or running as unfinished in the timings', () => {
    const model = new ProgressModel(0);
    model.apply(scheduled('a', 'r1'));
    model.apply(scheduled('a', 'r2'));
    model.apply(started('a', 'r2'));
    expect(model.timings()[0]).toMatchObject({ runs: 0, unfinished: 2 });
  });

  it('counts published artifacts by type, in order of first appearance', () => {
    const model = new ProgressModel(0);
    for (const type of ['Doc', 'Part', 'Part', 'Doc', 'Part']) {
      model.apply({ kind: 'published', at: 0, artifactId: type, type, producedBy: 'x', correlationId: 'c' });
    }
    const snapshot = model.snapshot(0);
    expect(snapshot.published).toBe(5);
    expect(Object.entries(snapshot.publishedByType)).toEqual([['Doc', 2], ['Part', 3]]);
  });

  it('reports runs per second over the last two seconds', () => {
    const model = new ProgressModel(0);
    for (let i = 0; i < 10; i++) {
      model.apply(scheduled('a', `r${i}`, i * 100));
      model.apply(started('a', `r${i}`, i * 100));
      model.apply(finished('a', `r${i}`, 1, i * 100 + 1));
    }
    expect(agent(model, 'a', 1_000)?.runsPerSecond).toBe(5);
    // Four seconds later every end time has left the window.
    expect(agent(model, 'a', 5_000)?.runsPerSecond).toBe(0);
  });

  it('gives p50 and p99 of run times per agent, counting done and failed runs', () => {
    const model = new ProgressModel(0);
    for (let i = 1; i <= 100; i++) {
      model.apply(scheduled('a', `r${i}`));
      model.apply(started('a', `r${i}`));
      model.apply(i === 100 ? failed('a', `r${i}`, i) : finished('a', `r${i}`, i));
    }
    const [timings] = model.timings();
    expect(timings).toMatchObject({ name: 'a', runs: 100, failed: 1, cancelled: 0, retries: 0, unfinished: 0, errors: [{ message: 'disk on fire', count: 1 }], maxMs: 100 });
    expect(timings!.p50Ms).toBeCloseTo(50, 1);
    expect(timings!.p99Ms).toBeCloseTo(99, 1);
  });

  it('shows agents declared up front before any of their events', () => {
    const model = new ProgressModel(0);
    model.addAgent('idle-agent');
    expect(model.snapshot(0).agents).toEqual([expect.objectContaining({ name: 'idle-agent', queued: 0, done: 0 })]);
    expect(model.timings()[0]).toMatchObject({ runs: 0, p50Ms: undefined, p99Ms: undefined });
  });

  it('tracks idle until something new is scheduled, and counts lost events', () => {
    const model = new ProgressModel(0);
    model.apply({ kind: 'idle', at: 1 });
    expect(model.snapshot(1).idle).toBe(true);
    model.apply(scheduled('a', 'r1'));
    expect(model.snapshot(1).idle).toBe(false);
    model.apply({ kind: 'lagged', at: 2, dropped: 12 });
    expect(model.snapshot(2).lostEvents).toBe(12);
  });

  it('measures elapsed time from the run start', () => {
    expect(new ProgressModel(1_000).snapshot(3_500).elapsedMs).toBe(2_500);
  });
});

describe('RunTimes', () => {
  it('answers percentiles within 0.1% and the exact maximum', () => {
    const times = new RunTimes();
    for (let ms = 1; ms <= 1000; ms++) times.record(ms);
    expect(times.count).toBe(1000);
    expect(Math.abs(times.percentile(50)! - 500) / 500).toBeLessThan(0.001);
    expect(Math.abs(times.percentile(99)! - 990) / 990).toBeLessThan(0.001);
    expect(times.maxMs).toBe(1000);
  });

  it('keeps its memory bounded however many run times it records', () => {
    const times = new RunTimes();
    for (let i = 0; i < 100_000; i++) times.record((i % 5000) / 10);
    const footprint = times.footprintBytes;
    for (let i = 0; i < 300_000; i++) times.record((i % 5000) / 10);
    expect(times.footprintBytes).toBe(footprint);
    expect(footprint).toBeLessThan(64 * 1024);
    expect(times.count).toBe(400_000);
  });

  it('is undefined before the first run time, counts a negative time as 0, and rejects a percentile outside (0, 100]', () => {
    const times = new RunTimes();
    expect([times.percentile(50), times.maxMs]).toEqual([undefined, undefined]);
    times.record(-5);
    expect([times.percentile(50), times.maxMs]).toEqual([0, 0]);
    expect(() => times.percentile(0)).toThrow(new RangeError('percentile must be in (0, 100], got 0'));
    expect(() => times.percentile(101)).toThrow(RangeError);
  });
});
