/**
 * Markdown to prose for the markdown-report workflow, with a real Markdown parser (micromark through
 * mdast-util-from-markdown, with GitHub's extensions: tables, autolinks, footnotes, strikethrough).
 * The parser settles what regular expressions got wrong: HTML entities are decoded (`&nbsp;` is a
 * space, not the word "nbsp"), code blocks and raw HTML are recognised wherever they are (in a list,
 * a quote, indented), a link keeps its text and loses its URL, and setext headings are headings.
 *
 * What is not prose is left out: code (blocks and inline), HTML, images, tables, link definitions,
 * footnote definitions, bare URLs, and licence boilerplate (a "License" or "Copyright" section,
 * a LICENSE file, and the standard licence paragraphs), which would otherwise dominate the keywords
 * of a directory of READMEs.
 */
import type { Heading, Nodes, Parent, Root, RootContent } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { toString } from 'mdast-util-to-string';
import { gfm } from 'micromark-extension-gfm';

/** A run of prose under one heading. */
export interface Section {
  readonly heading: string;
  readonly text: string;
}

/** A document as prose: its title, its sections, and its headings (for keyword weighting). */
export interface ParsedDocument {
  /** The first heading, or the fallback title. */
  readonly title: string;
  /** Prose under each heading, paragraphs separated by a blank line; sections without prose are left out. */
  readonly sections: readonly Section[];
  /** Every heading's text, licence headings excluded. */
  readonly headings: readonly string[];
}

/** Headings of sections that are legal or acknowledgement boilerplate, not about the project. */
const BOILERPLATE_HEADING = /^\s*(licen[cs]es?|copyright|(the )?mit licen[cs]e|legal|sponsors?|backers?|contributors?|credits|authors?|maintainers?)\b/i;
/** A file that is a licence from top to bottom. */
const LICENCE_FILE = /(^|\/)(licen[cs]e|copying|notice)([-._][^/]*)?\.md$/i;
/** Paragraphs from the standard licences (MIT, ISC, BSD, Apache) and copyright lines. */
const BOILERPLATE_PARAGRAPH =
  /permission is hereby granted|provided "as is"|without warranty of any kind|licensed under the|all rights reserved|redistribution and use in source|spdx-license-identifier|^\s*(copyright\b|\(c\)|©)|^\s*(mit|isc|apache-2\.0|bsd)\s*(©|\(c\)|licen[cs]e)/i;

/** Nodes that hold no prose: code, markup, media, tables and link or footnote definitions. */
const NOT_PROSE = new Set<Nodes['type']>(['code', 'inlineCode', 'html', 'image', 'imageReference', 'table', 'definition', 'footnoteDefinition', 'footnoteReference', 'thematicBreak', 'yaml']);

/** Block nodes whose children are separate paragraphs. */
const CONTAINERS = new Set<Nodes['type']>(['blockquote', 'list', 'listItem']);

/**
 * Parses `markdown` into prose sections. `name` is the file's path (a licence file yields no
 * sections); `fallbackTitle` titles a document without headings.
 *
 * @example
 * ```ts
 * const doc = parseMarkdown('# Tool\n\nFast&nbsp;parsing. See [the docs](https://x.dev).\n\n```js\nrun()\n```\n', 'README.md', 'README.md');
 * doc.title;            // 'Tool'
 * doc.sections[0].text; // 'Fast parsing. See the docs.'
 * ```
 */
export function parseMarkdown(markdown: string, name: string, fallbackTitle: string): ParsedDocument {
  if (LICENCE_FILE.test(name)) return { title: fallbackTitle, sections: [], headings: [] };
  const tree: Root = fromMarkdown(markdown, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
  const sections: Section[] = [];
  const headings: string[] = [];
  let title: string | undefined;
  let heading = fallbackTitle;
  let paragraphs: string[] = [];
  /** While inside a boilerplate section: its depth (it ends at a heading of this depth or higher). */
  let skippingDepth: number | undefined;

  const flush = (): void => {
    const text = paragraphs.join('\n\n').trim();
    if (text !== '') sections.push({ heading, text });
    paragraphs = [];
  };

  for (const node of tree.children) {
    if (node.type === 'heading') {
      if (skippingDepth !== undefined && node.depth > skippingDepth) continue;
      skippingDepth = undefined;
      flush();
      const text = headingText(node);
      if (BOILERPLATE_HEADING.test(text)) {
        skippingDepth = node.depth;
        continue;
      }
      if (text === '') continue;
      heading = text;
      title ??= text;
      headings.push(text);
      continue;
    }
    if (skippingDepth !== undefined) continue;
    paragraphs.push(...blockParagraphs(node));
  }
  flush();
  return { title: title ?? fallbackTitle, sections, headings };
}

function headingText(node: Heading): string {
  return collapse(inlineText(node));
}

/** The prose paragraphs of a block: one per paragraph, looking into lists and quotes; boilerplate dropped. */
function blockParagraphs(node: RootContent): string[] {
  if (NOT_PROSE.has(node.type)) return [];
  if (CONTAINERS.has(node.type)) return (node as Parent).children.flatMap((child) => blockParagraphs(child));
  const text = collapse(inlineText(node));
  if (text === '' || BOILERPLATE_PARAGRAPH.test(text)) return [];
  return [text];
}

/** The text of inline content: links keep their text (a bare URL is dropped), code and media are left out. */
function inlineText(node: Nodes): string {
  if (NOT_PROSE.has(node.type)) return '';
  if (node.type === 'text') return node.value;
  if (node.type === 'break') return ' ';
  if (node.type === 'link') {
    const text = toString(node, { includeImageAlt: false });
    // An autolink (`<https://...>`, `www.x.com`, an e-mail) shows its own address: not prose.
    if (text === node.url || `mailto:${text}` === node.url || `http://${text}` === node.url || `https://${text}` === node.url) return '';
  }
  if ('children' in node) return (node.children as Nodes[]).map((child) => inlineText(child)).join('');
  return '';
}

/** Whitespace runs, newlines inside a paragraph and no-break spaces (`&nbsp;`) included, become one space. */
function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
