/**
 * A deterministic stand-in for a language model, so that the issue-triage example runs without an
 * API key (and in the tests): the AI SDK's own test model (`MockLanguageModelV3` from `ai/test`)
 * answering each request from the artifacts in its prompt with fixed rules. It streams its answer in
 * small chunks and reports token usage, as a real provider does; and, to show the engine feeding a
 * validation failure back, its first triage of a segfault uses a label the schema does not allow,
 * corrected once the engine tells it so.
 */
import { MockLanguageModelV3 } from 'ai/test';
import type { LanguageModelV3CallOptions, LanguageModelV3StreamPart } from '@ai-sdk/provider';

interface Issue {
  readonly number: number;
  readonly title: string;
  readonly body: string;
}
interface Triage {
  readonly issue: number;
  readonly label: string;
  readonly priority: number;
  readonly summary: string;
}
interface Draft {
  readonly issue: number;
  readonly reply: string;
}

/** The artifacts the engine's default prompt lists: `## Type (id)` headings, each followed by its payload as JSON. */
function sections(text: string): { type: string; payload: unknown }[] {
  const found: { type: string; payload: unknown }[] = [];
  for (const section of text.split(/^## /m).slice(1)) {
    const heading = /^(\w+) \([^)]*\)\n/.exec(section);
    if (heading === null) continue;
    // The section's JSON ends where the engine's next words (a validation feedback) begin.
    const json = section.slice(heading[0].length);
    const end = json.lastIndexOf('}');
    found.push({ type: heading[1]!, payload: JSON.parse(json.slice(0, end + 1)) as unknown });
  }
  return found;
}

function textOf(call: LanguageModelV3CallOptions, role: 'user' | 'system'): string {
  return call.prompt
    .filter((message) => message.role === role)
    .map((message) => (typeof message.content === 'string' ? message.content : message.content.map((part) => ('text' in part ? part.text : '')).join('')))
    .join('\n');
}

function triage(issue: Issue, corrected: boolean): Triage {
  const text = `${issue.title} ${issue.body}`.toLowerCase();
  if (/segfault|segmentation/.test(text) && !corrected) return { issue: issue.number, label: 'segfault', priority: 1, summary: issue.title };
  if (/crash|segfault|segmentation|error|exits/.test(text)) return { issue: issue.number, label: 'bug', priority: 1, summary: issue.title };
  if (/\?$|^how |^why /.test(issue.title.toLowerCase())) return { issue: issue.number, label: 'question', priority: 3, summary: issue.title };
  return { issue: issue.number, label: 'feature', priority: 2, summary: issue.title };
}

const OPENERS: Record<string, string> = {
  bug: 'Thank you for the report: we can reproduce the problem and a fix is on its way.',
  feature: 'Thank you for the idea: we have added it to the roadmap discussion.',
  question: 'Good question: the docs answer it, and we will make that page easier to find.',
};

function answer(call: LanguageModelV3CallOptions): unknown {
  const user = textOf(call, 'user');
  const corrected = user.includes('is not a valid');
  const inputs = sections(user);
  switch (call.responseFormat?.type === 'json' ? call.responseFormat.name : undefined) {
    case 'Triage':
      return triage(inputs[0]!.payload as Issue, corrected);
    case 'Replies':
      return {
        replies: inputs.map(({ payload }) => {
          const t = payload as Triage;
          return { issue: t.issue, reply: `${OPENERS[t.label] ?? OPENERS.question} (re #${t.issue}: ${t.summary})` };
        }),
      };
    case 'Review': {
      const draft = inputs.find((i) => i.type === 'Draft')!.payload as Draft;
      const triaged = inputs.find((i) => i.type === 'Triage')!.payload as Triage;
      const approved = draft.reply.includes(`#${triaged.issue}`) && triaged.priority > 1;
      return { issue: draft.issue, approved, notes: approved ? 'Reads well.' : 'A priority-1 bug: a maintainer should answer it personally.' };
    }
    default:
      throw new Error(`the stand-in model does not know the output ${JSON.stringify(call.responseFormat)}`);
  }
}

function chunks(text: string, size: number): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts;
}

/** About four characters a token, as for English text with common tokenizers. */
const tokens = (text: string): number => Math.ceil(text.length / 4);

/** The stand-in model: answers every request at once, streamed in 24-character chunks. */
export function standInModel(): MockLanguageModelV3 {
  return new MockLanguageModelV3({
    provider: 'stand-in',
    modelId: 'rules-v1',
    doStream: (call) => {
      const text = JSON.stringify(answer(call));
      const input = tokens(textOf(call, 'system') + textOf(call, 'user'));
      const parts: LanguageModelV3StreamPart[] = [
        { type: 'stream-start', warnings: [] },
        { type: 'text-start', id: 'answer' },
        ...chunks(text, 24).map((delta): LanguageModelV3StreamPart => ({ type: 'text-delta', id: 'answer', delta })),
        { type: 'text-end', id: 'answer' },
        {
          type: 'finish',
          finishReason: { unified: 'stop', raw: 'stop' },
          usage: { inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: tokens(text), text: tokens(text), reasoning: 0 } },
        },
      ];
      return Promise.resolve({
        stream: new ReadableStream({
          start(controller) {
            for (const part of parts) controller.enqueue(part);
            controller.close();
          },
        }),
      });
    },
  });
}
