/**
 * Cancelling a workflow while its model answer streams, at every point fast-check's scheduler picks
 * among the chunks: the run ends either finished (the whole answer arrived first, and it is
 * published) or cancelled (nothing published, the request's signal aborted), never failed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MockLanguageModelV3 } from 'ai/test';
import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { Board, artifactType } from 'skein/board';
import { llmEngine } from 'skein/llm';
import { usage } from './fixtures/scripted-model.js';

const Issue = artifactType('Issue', z.object({ title: z.string() }));
const Triage = artifactType('Triage', z.object({ label: z.enum(['bug', 'feature']) }));
const ANSWER = '{"label":"feature"}';

describe('llmEngine cancellation', () => {
  it('ends a run finished or cancelled, wherever the cancel lands among the streamed chunks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 6 }), async (s, chunks) => {
        const size = Math.ceil(ANSWER.length / chunks);
        const model = new MockLanguageModelV3({
          doStream: (call) =>
            Promise.resolve({
              stream: new ReadableStream<LanguageModelV3StreamPart>({
                async start(controller) {
                  const parts: LanguageModelV3StreamPart[] = [{ type: 'text-start', id: 't' }];
                  for (let i = 0; i < ANSWER.length; i += size) parts.push({ type: 'text-delta', id: 't', delta: ANSWER.slice(i, i + size) });
                  parts.push({ type: 'text-end', id: 't' }, { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: usage() });
                  for (const [index, part] of parts.entries()) {
                    await s.schedule(Promise.resolve(), `chunk ${index}`);
                    if (call.abortSignal?.aborted) return;
                    try {
                      controller.enqueue(part);
                    } catch {
                      return; // the reader cancelled the stream
                    }
                  }
                  controller.close();
                },
              }),
            }),
        });
        await using board = new Board();
        board.agent('triage').consumes(Issue).publishes(Triage).engine(llmEngine({ model, output: Triage })).handle();
        const issue = await board.publish(Issue, { title: 'Dark mode' });
        const cancelled = s.schedule(Promise.resolve(), 'cancel').then(() => board.workflow(issue.correlationId).cancel());
        await s.waitFor(Promise.all([cancelled, board.runUntilIdle()]));
        const stats = board.stats().agents.triage!;
        const published = await board.listArtifacts({ type: Triage });
        expect(stats.failed).toBe(0);
        expect(stats.done + stats.cancelled).toBe(1);
        if (stats.done === 1) expect(published.map((a) => a.payload)).toEqual([{ label: 'feature' }]);
        else {
          expect(published).toEqual([]);
          if (model.doStreamCalls.length > 0) expect(model.doStreamCalls[0]!.abortSignal?.aborted).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });
});
