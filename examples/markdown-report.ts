/**
 * `npm start`: a report on every Markdown file under node_modules (READMEs and changelogs nobody
 * here wrote), made by a board of five agents:
 *
 *   Document ─read─> Source ─split─> Part ×≤8 ─summarise (batches)─> Summary ─┐
 *                          └─keywords (worker threads)──────────> Keywords ──┴─digest (join)─> Digest
 *
 * - read: reads the file (8 at once) and parses its Markdown into prose (examples/markdown/parse.ts:
 *   a real Markdown parser, so entities, code, HTML, link URLs and licence text stay out). Its "disk" fails transiently on a fixed fifth of the files
 *   (chosen by a hash of the path) on the first attempt; a retry policy with backoff recovers them,
 *   and the summary counts the retries.
 * - split: groups the document's sections into at most 8 parts.
 * - summarise: scores the sentences of a document's parts together, in batches of 8 parts or
 *   whatever arrived within 40 ms, and keeps the best two: an extractive summary.
 * - keywords: CPU work in a `WorkerPool` (examples/markdown/keywords.worker.mjs).
 * - digest: joins each document's Summary and Keywords by correlation id (each document is its own
 *   workflow) into a Digest.
 * When the board is idle, `finish` writes the digests to a Markdown report.
 *
 *   npm start                                   # node_modules -> .tmp/markdown-report/report.md
 *   npm start -- ./docs                         # any directory
 *   npm start -- ./docs /tmp/report.md          # and where the report goes
 */
import { readdir, readFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { exponential, retryPolicy } from 'skein';
import { Board, artifactType } from 'skein/board';
import { defineWorkflow } from '@skein/cli';
import { WorkerPool } from 'skein/worker';
import { z } from 'zod';
import { renderReport } from './markdown/report.js';
import { parseMarkdown } from './markdown/parse.js';
import { extract, fnv1a, groupSections, scoreSentences } from './markdown/text.js';

const MAX_PARTS = 8;

const Document = artifactType('Document', z.object({ path: z.string(), name: z.string() }));
const Section = z.object({ heading: z.string(), text: z.string() });
/** A document read and parsed: its prose by section (code, HTML and licence boilerplate left out). */
const Source = artifactType(
  'Source',
  z.object({ path: z.string(), name: z.string(), title: z.string(), sections: z.array(Section), headings: z.array(z.string()) }),
);
const Part = artifactType(
  'Part',
  z.object({ name: z.string(), title: z.string(), index: z.number().int(), of: z.number().int(), heading: z.string(), text: z.string() }),
);
const Summary = artifactType('Summary', z.object({ name: z.string(), title: z.string(), parts: z.number().int(), extract: z.string() }));
const Keywords = artifactType('Keywords', z.object({ name: z.string(), words: z.number().int(), keywords: z.array(z.object({ term: z.string(), score: z.number() })) }));
const Digest = artifactType(
  'Digest',
  z.object({ name: z.string(), title: z.string(), words: z.number().int(), parts: z.number().int(), keywords: z.array(z.string()), extract: z.string() }),
);

/** A read error that a second attempt gets past, like EAGAIN from a busy disk. */
class TransientReadError extends Error {
  override readonly name = 'TransientReadError';
}

export default defineWorkflow({
  name: 'markdown-report',
  description: 'Summarise every Markdown file under a directory (default: node_modules) into one report.',

  createBoard(ctx) {
    const board = new Board();
    const keywordThreads = ctx.concurrency('keywords', 2);
    const pool = new WorkerPool<{ text: string; headings: string[] }, { keywords: { term: string; score: number }[]; words: number }>({
      filename: new URL('./markdown/keywords.worker.mjs', import.meta.url),
      maxThreads: keywordThreads,
      // Start the threads now, while the inputs are listed: a thread takes a few hundred ms to start.
      minThreads: keywordThreads,
    });
    ctx.defer(() => pool.close({ force: true }));

    board
      .agent('read')
      .consumes(Document)
      .publishes(Source)
      .maxConcurrency(ctx.concurrency('read', 8))
      .retry(retryPolicy({ maxAttempts: 3, backoff: exponential({ initialMs: 20, maxMs: 200 }) }))
      .handle(async ([doc], { signal, attempt }) => {
        if (attempt === 1 && fnv1a(doc.payload.name) % 5 === 0) {
          throw new TransientReadError(`EAGAIN reading ${doc.payload.name} (simulated, first attempt only)`);
        }
        const text = await readFile(doc.payload.path, { encoding: 'utf8', signal });
        const parsed = parseMarkdown(text, doc.payload.name, basename(doc.payload.name));
        return { path: doc.payload.path, name: doc.payload.name, title: parsed.title, sections: [...parsed.sections], headings: [...parsed.headings] };
      });

    board
      .agent('split')
      .consumes(Source)
      .publishes(Part, { fanOut: MAX_PARTS })
      .maxConcurrency(ctx.concurrency('split', 2))
      .handle(([source]) => {
        const { title, sections } = source.payload;
        const parts = groupSections(sections.length > 0 ? sections : [{ heading: title, text: '' }], MAX_PARTS);
        return parts.map((part, index) => ({ name: source.payload.name, title, index, of: parts.length, heading: part.heading, text: part.text }));
      });

    board
      .agent('summarise')
      .consumes(Part, { batch: { size: MAX_PARTS, timeoutMs: 40 } })
      .publishes(Summary)
      .maxConcurrency(ctx.concurrency('summarise', 2))
      .handle((parts) => {
        // One batch holds one document's parts: a batch never mixes workflows, and split publishes
        // at most MAX_PARTS parts at once.
        const first = parts[0]!.payload;
        const scored = scoreSentences(parts.map((p) => ({ index: p.payload.index, text: p.payload.text })));
        return { name: first.name, title: first.title, parts: parts.length, extract: extract(scored, 2) };
      });

    board
      .agent('keywords')
      .consumes(Source)
      .publishes(Keywords)
      .maxConcurrency(keywordThreads)
      .handle(async ([source], { signal }) => {
        const text = source.payload.sections.map((section) => section.text).join('\n\n');
        const result = await pool.run({ text, headings: source.payload.headings }, { signal });
        return { name: source.payload.name, ...result };
      });

    board
      .agent('digest')
      .consumes([Summary, Keywords], { join: { withinMs: 30_000 } })
      .publishes(Digest)
      .maxConcurrency(ctx.concurrency('digest', 4))
      .handle(([summary, keywords]) => ({
        name: summary.payload.name,
        title: summary.payload.title,
        parts: summary.payload.parts,
        words: keywords.payload.words,
        keywords: keywords.payload.keywords.map((k) => k.term),
        extract: summary.payload.extract,
      }));

    return board;
  },

  async inputs(ctx) {
    const root = resolve(ctx.cwd, ctx.args[0] ?? 'node_modules');
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`cannot read the directory ${root}: ${error.code ?? error.message}`);
    });
    return entries
      .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith('.md'))
      .map((entry) => join(entry.parentPath, entry.name))
      .sort()
      .map((path) => ({ type: Document, payload: { path, name: relative(root, path) } }));
  },

  async finish(ctx, board) {
    const root = resolve(ctx.cwd, ctx.args[0] ?? 'node_modules');
    const out = resolve(ctx.cwd, ctx.args[1] ?? '.tmp/markdown-report/report.md');
    const digests = (await board.store.list({ type: Digest })).map((a) => a.payload);
    const report = renderReport(digests, { root: relative(ctx.cwd, root) || '.', generatedAt: new Date() });
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, report.text);
    return {
      outputs: [{ label: 'report', path: relative(ctx.cwd, out) || out }],
      notes: [`${digests.length} documents, ${report.words.toLocaleString('en-US')} words; top keywords: ${report.topKeywords.slice(0, 8).join(', ')}`],
    };
  },
});
