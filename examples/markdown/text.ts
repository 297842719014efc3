/**
 * Plain-text helpers for the markdown-report workflow: group a document's sections (parsed in
 * `parse.ts`) into parts, cut prose into sentences, and pick the sentences that best summarise a
 * document (an extractive summary: no network, no model).
 */

import type { Section } from './parse.js';

/** Words that carry no topic; shared by sentence scoring. */
const FILLER = new Set(
  'a an and are as at be by for from has have in is it its of on or that the this to was were will with you your can not'.split(' '),
);

/**
 * Groups consecutive sections into at most `maxParts` parts of similar size, so that a long
 * changelog is summarised in as many pieces as a short README.
 */
export function groupSections(sections: readonly Section[], maxParts: number): Section[] {
  if (sections.length <= maxParts) return [...sections];
  const perPart = Math.ceil(sections.length / maxParts);
  const parts: Section[] = [];
  for (let i = 0; i < sections.length; i += perPart) {
    const group = sections.slice(i, i + perPart);
    parts.push({ heading: group[0]!.heading, text: group.map((s) => s.text).join('\n\n') });
  }
  return parts;
}

/** Sentences of a text: paragraphs split at `.`, `!` or `?` followed by a capital or a digit. */
export function sentences(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .flatMap((paragraph) => paragraph.replace(/\s+/g, ' ').trim().split(/(?<=[.!?])\s+(?=[A-Z0-9"'(])/))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export interface ScoredSentence {
  readonly text: string;
  readonly score: number;
  /** Order in the document: part index * 1000 + sentence index. */
  readonly position: number;
}

/**
 * Scores the sentences of several parts of one document together: a sentence scores by how often
 * its content words occur in the whole batch (topic words recur), favouring prose of readable length
 * near the start and penalising URLs, code and lists of symbols.
 */
export function scoreSentences(parts: readonly { readonly index: number; readonly text: string }[]): ScoredSentence[] {
  const all = parts.flatMap((part) => sentences(part.text).map((text, i) => ({ text, position: part.index * 1000 + i })));
  const frequency = new Map<string, number>();
  for (const { text } of all) for (const word of contentWords(text)) frequency.set(word, (frequency.get(word) ?? 0) + 1);
  return all.map(({ text, position }) => {
    const words = contentWords(text);
    const length = text.split(/\s+/).length;
    let score = words.reduce((sum, word) => sum + Math.log(1 + (frequency.get(word) ?? 0)), 0) / Math.max(4, words.length);
    if (length < 6 || length > 45) score *= 0.3;
    if (!/[.!?]$/.test(text)) score *= 0.6;
    if (/https?:|\{|\}|=>|\$ |;$/.test(text)) score *= 0.2;
    score *= 1 + 0.5 / (1 + position / 1000); // earlier parts say what the document is about
    return { text, score: Math.round(score * 1000) / 1000, position };
  });
}

/** The `count` best sentences, in document order, joined: the extract. */
export function extract(scored: readonly ScoredSentence[], count: number): string {
  const seen = new Set<string>();
  return [...scored]
    .sort((a, b) => b.score - a.score)
    .filter((s) => !seen.has(s.text) && seen.add(s.text))
    .slice(0, count)
    .sort((a, b) => a.position - b.position)
    .map((s) => s.text)
    .join(' ');
}

function contentWords(text: string): string[] {
  return (text.toLowerCase().match(/[a-z][a-z0-9-]{2,}/g) ?? []).filter((word) => !FILLER.has(word));
}

/** FNV-1a, 32 bits: a stable hash to pick a deterministic subset of inputs. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
