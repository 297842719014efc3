/**
 * examples/issue-triage.ts, run as `skein run` runs it, with the deterministic stand-in model (the
 * key that would select a real provider is removed for the test).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkflow } from '@skein/cli';
import workflow from '../examples/issue-triage.js';

let dir: string;
let savedKey: string | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skein-issue-triage-'));
  savedKey = process.env.OPENAI_API_KEY;
  delete process.env.OPENAI_API_KEY;
});

afterAll(async () => {
  if (savedKey !== undefined) process.env.OPENAI_API_KEY = savedKey;
  await rm(dir, { recursive: true, force: true });
});

describe('examples/issue-triage.ts', () => {
  it('triages the sample inbox, drafts replies in batches and reviews each one, with the stand-in model', async () => {
    const out = join(dir, 'replies.md');
    const summary = await runWorkflow(workflow, { args: [join(import.meta.dirname, '..', 'examples', 'issue-triage', 'issues.json'), out] });
    expect(summary.status).toBe('completed');
    expect(summary.publishedByType).toMatchObject({ Issue: 6, Triage: 6, Draft: 6, Review: 6 });
    expect(summary.agents.map((a) => [a.name, a.runs, a.failed])).toEqual([
      ['triage', 6, 0],
      ['draft', expect.any(Number), 0],
      ['review', 6, 0],
    ]);
    expect(summary.notes).toContain('6 issues triaged, 6 replies drafted, 4 approved, 2 held for a maintainer');
    // 6 triages, one of them corrected after a validation failure, then 6 reviews and a request per batch of drafts.
    const requests = Number(/in (\d+) requests/.exec(summary.notes.find((n) => n.startsWith('tokens:')) ?? '')?.[1]);
    const batches = summary.agents.find((a) => a.name === 'draft')!.runs;
    expect(requests).toBe(6 + 1 + 6 + batches);
    expect(summary.agents.map((a) => a.usage?.requests)).toEqual([7, batches, 6]);
    const replies = await readFile(out, 'utf8');
    expect(replies).toContain('## #104 Segfault in the SQLite store under load');
    expect(replies).toContain('bug, priority 1; held for a maintainer');
    expect(replies).toContain('> Thank you for the idea');
  });
});
