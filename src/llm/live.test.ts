/**
 * Against a real provider: runs only when OPENAI_API_KEY is set (SKEIN_LLM_MODEL picks the model,
 * default gpt-4.1-mini), and is skipped otherwise. Nothing here is faked.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, artifactType } from 'skein/board';
import { llmEngine } from 'skein/llm';

const key = process.env.OPENAI_API_KEY;
const Issue = artifactType('Issue', z.object({ title: z.string(), body: z.string() }));
const Triage = artifactType('Triage', z.object({ label: z.enum(['bug', 'feature', 'question']), summary: z.string() }));

describe.skipIf(key === undefined || key === '')('llmEngine against OpenAI', () => {
  it('labels an issue with a typed, validated answer and reports its token usage', async () => {
    const { createOpenAI } = await import('@ai-sdk/openai');
    const model = createOpenAI({ apiKey: key })(process.env.SKEIN_LLM_MODEL ?? 'gpt-4.1-mini');
    await using board = new Board();
    const engine = llmEngine({ model, output: Triage, temperature: 0, system: 'Label the issue.', providerOptions: { openai: { strictJsonSchema: false } } });
    board.agent('triage').consumes(Issue).publishes(Triage).timeout(60_000).engine(engine).handle();
    await board.publish(Issue, { title: 'The app crashes on start', body: 'Since 2.0 it exits with a segmentation fault.' });
    await board.runUntilIdle();
    const [triage] = await board.listArtifacts({ type: Triage as never });
    expect((triage?.payload as { label: string }).label).toBe('bug');
    expect(board.stats().agents.triage?.usage.totalTokens).toBeGreaterThan(0);
  }, 90_000);
});
