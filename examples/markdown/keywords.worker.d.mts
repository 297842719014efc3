/** Types of keywords.worker.mjs (plain JavaScript, since worker threads load it without TypeScript). */
export interface KeywordsInput {
  readonly text: string;
  readonly headings: readonly string[];
}

export interface KeywordsOutput {
  readonly keywords: { term: string; score: number }[];
  readonly words: number;
}

/**
 * The keywords of a document's prose, best first (at most 8), and its word count.
 *
 * @example
 * ```ts
 * import extract from './keywords.worker.mjs';
 * extract({ text: 'Templates compile. Templates cache.', headings: ['Templates'] }).keywords[0]?.term; // 'templates'
 * ```
 */
export default function extract(input: KeywordsInput): KeywordsOutput;
