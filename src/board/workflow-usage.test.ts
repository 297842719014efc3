/**
 * Usage summed per workflow: `board.workflow(id).usage()` (and the `board.start` handle's `usage()`)
 * sums what the workflow's runs reported with `ctx.reportUsage`, kept apart from the pruned workflow
 * records and bounded (the workflow updated longest ago is forgotten first).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, artifactType, type Artifact, type Engine } from 'skein/board';
import { WorkflowUsage, MAX_WORKFLOW_USAGE } from './pipeline/workflow-usage.js';

const Job = artifactType('Job', z.number());
const Step = artifactType('Step', z.number());

describe('workflow usage', () => {
  it('sums each workflow\'s runs separately, across agents and a chain of runs', async () => {
    await using board = new Board();
    board.agent('first').consumes(Job).publishes(Step).handle(([job], ctx) => {
      ctx.reportUsage({ tokens: job.payload, requests: 1 });
      return job.payload;
    });
    board.agent('second').consumes(Step).handle(([step], ctx) => ctx.reportUsage({ tokens: 100 * step.payload }));
    const a = await board.publish(Job, 1);
    const b = await board.publish(Job, 2);
    await board.publish(Job, 3, { correlationId: a.correlationId });
    await board.runUntilIdle();
    expect(board.workflow(a.correlationId).usage()).toEqual({ tokens: 1 + 100 + 3 + 300, requests: 2 });
    expect(board.workflow(b.correlationId).usage()).toEqual({ tokens: 2 + 200, requests: 1 });
    expect(board.stats().usage).toEqual({ tokens: 606, requests: 3 });
  });

  it('counts usage an engine reports, and the start handle\'s usage() is the workflow\'s', async () => {
    await using board = new Board();
    const metered: Engine<readonly Artifact<number>[], number> = {
      name: 'metered',
      evaluate: ([job], ctx) => {
        ctx.reportUsage({ inputTokens: 10, outputTokens: 2 });
        return job!.payload;
      },
    };
    board.agent('worker').consumes(Job).publishes(Step).engine(metered).handle();
    const run = await board.start(Job, 1, { requires: [Step] });
    const other = await board.start(Job, 2, { requires: [Step] });
    await run.result();
    await other.result();
    expect(run.usage()).toEqual({ inputTokens: 10, outputTokens: 2 });
    expect(run.usage()).toEqual(board.workflow(run.id).usage());
    expect(other.workflow.usage()).toEqual({ inputTokens: 10, outputTokens: 2 });
  });

  it('gives {} for a workflow that reported nothing or is unknown, and frozen copies', async () => {
    await using board = new Board();
    board.agent('quiet').consumes(Job).handle(() => {});
    const job = await board.publish(Job, 1);
    await board.runUntilIdle();
    expect(board.workflow(job.correlationId).usage()).toEqual({});
    expect(board.workflow('never-seen').usage()).toEqual({});
    board.agent('loud').consumes(Step).handle((_inputs, ctx) => ctx.reportUsage({ tokens: 1 }));
    const step = await board.publish(Step, 1);
    await board.runUntilIdle();
    const usage = board.workflow(step.correlationId).usage();
    expect(Object.isFrozen(usage)).toBe(true);
    expect(() => ((usage as Record<string, number>).tokens = 99)).toThrow(TypeError);
    expect(board.workflow(step.correlationId).usage()).toEqual({ tokens: 1 });
  });

  it('keeps the sums after the workflow\'s record is pruned (it has no work left)', async () => {
    await using board = new Board();
    board.agent('worker').consumes(Job).handle((_inputs, ctx) => ctx.reportUsage({ tokens: 5 }));
    const job = await board.publish(Job, 1);
    await board.workflow(job.correlationId).done();
    await board.runUntilIdle();
    expect(board.workflow(job.correlationId).state).toBe('active');
    expect(board.workflow(job.correlationId).usage()).toEqual({ tokens: 5 });
  });

  it('bounds the workflows kept: past the limit the one updated longest ago is forgotten', () => {
    expect(MAX_WORKFLOW_USAGE).toBe(10_000);
    expect(new WorkflowUsage().limit).toBe(MAX_WORKFLOW_USAGE);
    const sums = new WorkflowUsage(3);
    sums.add('a', { tokens: 1 });
    sums.add('b', { tokens: 2 });
    sums.add('c', { tokens: 3 });
    sums.add('a', { tokens: 10 }); // 'a' updated: now 'b' is the oldest
    sums.add('d', { tokens: 4 });
    expect(sums.size).toBe(3);
    expect(sums.get('b')).toEqual({});
    expect(sums.get('a')).toEqual({ tokens: 11 });
    expect(sums.get('c')).toEqual({ tokens: 3 });
    expect(sums.get('d')).toEqual({ tokens: 4 });
    sums.add('e', { tokens: 5 });
    expect(sums.get('c')).toEqual({});
    expect(sums.size).toBe(3);
  });
});
