/**
 * Issue triage with language-model agents (skein/llm): every incoming issue is labelled, replies are
 * drafted in batches, and a reviewer reads each draft beside its triage.
 *
 *   Issue ─triage─> Triage ─draft (batches of 4)─> Draft ─┐
 *                     └───────────────────────────────────┴─review (join by issue)─> Review
 *
 * - triage: asks the model for a `Triage` (a label from a fixed set, a priority, a summary); the
 *   schema is the output contract, and an answer outside it is fed back until it fits.
 * - draft: takes the triages in batches and asks for all their replies in one request (a `Replies`
 *   object, an engine chain then splits it into one `Draft` per issue).
 * - review: joins each `Draft` with its `Triage` by issue number and asks whether it may be sent.
 * Every agent has a token budget and a request rate; usage is in the summary's notes.
 *
 * With OPENAI_API_KEY set it asks OpenAI (SKEIN_LLM_MODEL, default gpt-4.1-mini); otherwise a
 * deterministic stand-in model (examples/issue-triage/stand-in-model.ts) answers, so it runs anywhere:
 *
 *   npx tsx packages/cli/src/bin.ts run examples/issue-triage.ts                 # stand-in model
 *   OPENAI_API_KEY=sk-... npx tsx packages/cli/src/bin.ts run examples/issue-triage.ts
 *   npx tsx packages/cli/src/bin.ts run examples/issue-triage.ts my-issues.json out.md
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { Board, artifactType } from 'skein/board';
import { BudgetExceededError, llmEngine, type LanguageModelLike } from 'skein/llm';
import { defineWorkflow } from '@skein/cli';
import { z } from 'zod';
import { standInModel } from './issue-triage/stand-in-model.js';

const Issue = artifactType('Issue', z.object({ number: z.number().int(), title: z.string(), body: z.string() }));
const Triage = artifactType(
  'Triage',
  z.object({
    issue: z.number().int().describe('the issue number'),
    label: z.enum(['bug', 'feature', 'question']),
    priority: z.number().int().min(1).max(3).describe('1 is the most urgent'),
    summary: z.string().describe('one line'),
  }),
);
/** What the draft agent asks the model for: every reply of a batch at once. Never published. */
const Replies = artifactType('Replies', z.object({ replies: z.array(z.object({ issue: z.number().int(), reply: z.string() })) }));
const Draft = artifactType('Draft', z.object({ issue: z.number().int(), reply: z.string() }));
const Review = artifactType('Review', z.object({ issue: z.number().int(), approved: z.boolean(), notes: z.string() }));

const BATCH = 4;
/** Never retry a spent budget: it stays spent. */
const retryIf = (error: unknown): boolean => !(error instanceof BudgetExceededError);

const openAiKey = (): string | undefined => (process.env.OPENAI_API_KEY === '' ? undefined : process.env.OPENAI_API_KEY);
const openAiModelId = (): string => process.env.SKEIN_LLM_MODEL ?? 'gpt-4.1-mini';

/** Which model answers: OpenAI's when a key is set, else the stand-in. */
function describeModel(): string {
  return openAiKey() === undefined ? 'the deterministic stand-in model (set OPENAI_API_KEY to ask OpenAI)' : `OpenAI ${openAiModelId()}`;
}

async function chooseModel(): Promise<LanguageModelLike> {
  const key = openAiKey();
  if (key === undefined) return standInModel();
  const { createOpenAI } = await import('@ai-sdk/openai');
  return createOpenAI({ apiKey: key })(openAiModelId());
}

export default defineWorkflow({
  name: 'issue-triage',
  description: 'Label incoming issues, draft replies in batches, and review each draft beside its triage, with language-model agents.',

  async createBoard(ctx) {
    // What every agent's engine shares. OpenAI's strict structured outputs reject schemas with optional
    // properties or open objects; the engine validates every answer against the real schema anyway.
    const common = {
      model: await chooseModel(),
      budget: { tokens: 200_000, requestsPerMinute: 120 },
      providerOptions: { openai: { strictJsonSchema: false } },
    };
    const board = new Board();

    board
      .agent('triage')
      .consumes(Issue)
      .publishes(Triage)
      .maxConcurrency(ctx.concurrency('triage', 4))
      .retry({ maxAttempts: 2, retryIf })
      .engine(llmEngine({ ...common, output: Triage, temperature: 0, system: 'You triage issues of skein, a TypeScript library. Label each issue and rate its priority.' }))
      .handle();

    board
      .agent('draft')
      .consumes(Triage, { batch: { size: BATCH, timeoutMs: 250 } })
      .publishes(Draft, { fanOut: BATCH })
      .maxConcurrency(ctx.concurrency('draft', 2))
      .retry({ maxAttempts: 2, retryIf })
      .engine(llmEngine({ ...common, output: Replies, system: 'You write short, friendly first replies to triaged issues: one reply per issue, two sentences at most, mentioning the issue number as #N.' }))
      .engine((answer) => answer.replies)
      .handle();

    board
      .agent('review')
      .consumes([Draft, Triage], { join: { by: (artifact) => String(artifact.payload.issue), withinMs: 60_000 } })
      .publishes(Review)
      .maxConcurrency(ctx.concurrency('review', 4))
      .retry({ maxAttempts: 2, retryIf })
      .engine(llmEngine({ ...common, output: Review, temperature: 0, system: 'You review a drafted reply beside the triage of its issue. Approve it unless it is wrong, rude, or a priority-1 bug that a maintainer should answer personally.' }))
      .handle();

    return board;
  },

  async inputs(ctx) {
    const file = ctx.args[0] === undefined ? new URL('./issue-triage/issues.json', import.meta.url) : resolve(ctx.cwd, ctx.args[0]);
    const issues = z.array(Issue.schema as z.ZodType<z.infer<typeof Issue.schema>>).parse(JSON.parse(await readFile(file, 'utf8')));
    // One workflow for the whole inbox: batches and joins gather artifacts of one workflow.
    return issues.map((issue) => ({ type: Issue, payload: issue, correlationId: 'inbox' }));
  },

  async finish(ctx, board) {
    const out = resolve(ctx.cwd, ctx.args[1] ?? '.tmp/issue-triage/replies.md');
    const triages = new Map((await board.store.list({ type: Triage })).map((a) => [a.payload.issue, a.payload]));
    const drafts = new Map((await board.store.list({ type: Draft })).map((a) => [a.payload.issue, a.payload]));
    const reviews = (await board.store.list({ type: Review })).map((a) => a.payload).sort((a, b) => a.issue - b.issue);
    const lines = [`# Replies to the inbox`, '', `Model: ${describeModel()}`, ''];
    for (const review of reviews) {
      const triage = triages.get(review.issue);
      lines.push(`## #${review.issue} ${triage?.summary ?? ''}`, '', `${triage?.label ?? '?'}, priority ${triage?.priority ?? '?'}; ${review.approved ? 'approved' : 'held for a maintainer'}: ${review.notes}`, '', `> ${drafts.get(review.issue)?.reply ?? ''}`, '');
    }
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, lines.join('\n'));
    const usage = board.stats().usage;
    const approved = reviews.filter((r) => r.approved).length;
    return {
      outputs: [{ label: 'replies', path: relative(ctx.cwd, out) || out }],
      notes: [
        `model: ${describeModel()}`,
        `${triages.size} issues triaged, ${drafts.size} replies drafted, ${approved} approved, ${reviews.length - approved} held for a maintainer`,
        `tokens: ${usage.inputTokens ?? 0} in, ${usage.outputTokens ?? 0} out, in ${usage.requests ?? 0} requests`,
      ],
    };
  },
});
