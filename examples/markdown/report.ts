/** The markdown-report workflow's output: one Markdown page listing every document. */

export interface DocumentDigest {
  readonly name: string;
  readonly title: string;
  readonly words: number;
  readonly parts: number;
  readonly keywords: readonly string[];
  readonly extract: string;
}

/** The report's text, plus the figures the CLI prints at the end. */
export function renderReport(
  digests: readonly DocumentDigest[],
  options: { root: string; generatedAt: Date },
): { text: string; words: number; topKeywords: string[] } {
  const sorted = [...digests].sort((a, b) => a.name.localeCompare(b.name));
  const words = sorted.reduce((sum, d) => sum + d.words, 0);
  const topKeywords = mostCommon(sorted.flatMap((d) => d.keywords.slice(0, 5)), 15);
  const lines = [
    '# Markdown report',
    '',
    `${sorted.length} Markdown documents under \`${options.root}\`, ${words.toLocaleString('en-US')} words, ` +
      `summarised by \`skein run examples/markdown-report.ts\` on ${options.generatedAt.toISOString()}.`,
    '',
    `Most frequent keywords across documents: ${topKeywords.join(', ') || '(none)'}.`,
    '',
    '| Document | Words | Top keywords |',
    '| --- | ---: | --- |',
    ...sorted.map((d) => `| [${escapeCell(d.name)}](#${anchor(d.name)}) | ${d.words.toLocaleString('en-US')} | ${escapeCell(d.keywords.slice(0, 5).join(', '))} |`),
    '',
  ];
  for (const d of sorted) {
    lines.push(
      `<a id="${anchor(d.name)}"></a>`,
      `## ${d.name}`,
      '',
      `**${d.title}** · ${d.words.toLocaleString('en-US')} words in ${d.parts} part${d.parts === 1 ? '' : 's'}`,
      '',
      `Keywords: ${d.keywords.join(', ') || '(none)'}`,
      '',
      d.extract === '' ? '_No prose to summarise._' : `> ${shorten(d.extract, 400)}`,
      '',
    );
  }
  return { text: lines.join('\n'), words, topKeywords };
}

function mostCommon(values: readonly string[], count: number): string[] {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, count).map(([value]) => value);
}

function anchor(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}
