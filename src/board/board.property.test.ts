/**
 * Properties over random workflows: random agents (what they consume and publish, batching,
 * concurrency, transient or permanent failures, retries), random inputs spread over workflows, and
 * sometimes a workflow cancelled mid-flight.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { constant } from 'skein';
import { Board, artifactType, type BoardEvent } from 'skein/board';

const payload = z.object({ v: z.number() });
const Types = [0, 1, 2, 3].map((i) => artifactType(`T${i}`, payload));

const agentArb = fc.record({
  consumes: fc.integer({ min: 0, max: 2 }),
  publishesAhead: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  batch: fc.option(fc.integer({ min: 2, max: 3 }), { nil: undefined }),
  maxConcurrency: fc.integer({ min: 1, max: 3 }),
  fail: fc.constantFrom('none', 'none', 'transient', 'always'),
  failEvery: fc.integer({ min: 2, max: 3 }),
  yieldFirst: fc.boolean(),
});

const scenarioArb = fc.record({
  agents: fc.array(agentArb, { minLength: 1, maxLength: 4 }),
  inputs: fc.array(fc.record({ type: fc.integer({ min: 0, max: 1 }), workflow: fc.integer({ min: 0, max: 2 }), v: fc.integer({ min: 0, max: 20 }) }), {
    minLength: 1,
    maxLength: 12,
  }),
  cancel: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  queueCapacity: fc.integer({ min: 1, max: 8 }),
});

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('random workflows', () => {
  it('runUntilIdle resolves exactly when no work remains; every run ends once; no artifact is lost or processed twice', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const board = new Board({ queueCapacity: scenario.queueCapacity });
        const events = board.events({ bufferSize: 100_000 });
        let inFlight = 0;
        /** agent -> artifact id -> run ids that received it */
        const received = new Map<string, Map<string, Set<string>>>();
        scenario.agents.forEach((spec, index) => {
          const name = `agent${index}`;
          received.set(name, new Map());
          const output = spec.publishesAhead === undefined ? undefined : Types[Math.min(3, spec.consumes + spec.publishesAhead)]!;
          const base = board
            .agent(name)
            .consumes(Types[spec.consumes]!, spec.batch === undefined ? {} : { batch: { size: spec.batch, timeoutMs: 2 } })
            .maxConcurrency(spec.maxConcurrency)
            .retry({ maxAttempts: 2, backoff: constant(0) });
          const builder: ReturnType<typeof base.publishes> = output === undefined ? base : base.publishes(output);
          builder.handle(async (inputs, ctx) => {
            inFlight++;
            try {
              for (const input of inputs) {
                const runs = received.get(name)!;
                if (!runs.has(input.id)) runs.set(input.id, new Set());
                runs.get(input.id)!.add(ctx.runId);
              }
              if (spec.yieldFirst) await tick();
              const sum = inputs.reduce((total, input) => total + input.payload.v, 0);
              const failing = sum % spec.failEvery === 0;
              if (failing && (spec.fail === 'always' || (spec.fail === 'transient' && ctx.attempt === 1))) throw new Error(`fail ${sum}`);
              return output === undefined ? undefined : { v: sum + 1 };
            } finally {
              inFlight--;
            }
          });
        });

        // Settled, not all: publishes into the workflow cancelled below are refused, and that is fine.
        const publishing = Promise.allSettled(
          scenario.inputs.map((input) => board.publish(Types[input.type]!, { v: input.v }, { correlationId: `wf${input.workflow}` })),
        );
        let cancelled: string | undefined;
        if (scenario.cancel !== undefined) {
          cancelled = `wf${scenario.cancel}`;
          await tick();
          await board.workflow(cancelled).cancel();
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const settled = await Promise.race([
          publishing.then(() => true),
          new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 5_000))),
        ]);
        clearTimeout(timer);
        if (!settled) throw new Error(`publishes never settled: ${JSON.stringify(board.stats())}`);
        await board.runUntilIdle({ timeoutMs: 10_000 });

        // Idle means idle: nothing running, queued or waiting on a timer, in the board or its store.
        expect(inFlight).toBe(0);
        for (const stats of Object.values(board.stats().agents)) expect(stats).toMatchObject({ queued: 0, running: 0 });
        expect(await board.store.listRuns()).toEqual([]);
        expect((await board.store.listGates()).filter((gate) => gate.kind === 'batch')).toEqual([]);
        const publishedAtIdle = board.stats().published;
        for (let i = 0; i < 5; i++) await tick();
        expect(board.stats().published).toBe(publishedAtIdle);
        await board.shutdown();

        const all: BoardEvent[] = [];
        for await (const event of events) all.push(event);
        expect(all.some((e) => e.kind === 'lagged')).toBe(false);

        // Every scheduled run ends exactly once: finished, failed or cancelled.
        const scheduled = new Map<string, { agent: string; inputIds: readonly string[]; correlationId: string }>();
        const endings = new Map<string, number>();
        for (const event of all) {
          if (event.kind === 'scheduled') scheduled.set(event.runId, event);
          if (event.kind === 'finished' || event.kind === 'failed' || event.kind === 'cancelled') {
            expect(scheduled.has(event.runId)).toBe(true);
            endings.set(event.runId, (endings.get(event.runId) ?? 0) + 1);
          }
        }
        for (const runId of scheduled.keys()) expect(endings.get(runId)).toBe(1);

        // No artifact processed twice by one subscription (a retry is the same run).
        for (const runs of received.values()) for (const runIds of runs.values()) expect(runIds.size).toBe(1);

        // No artifact lost: every stored artifact of a consumed type is in exactly one scheduled run of each consumer.
        const artifacts = await board.store.list();
        for (const [index, spec] of scenario.agents.entries()) {
          const name = `agent${index}`;
          for (const artifact of artifacts) {
            if (artifact.type !== Types[spec.consumes]!.name || artifact.correlationId === cancelled) continue;
            const containing = [...scheduled.values()].filter((run) => run.agent === name && run.inputIds.includes(artifact.id));
            expect(containing).toHaveLength(1);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
