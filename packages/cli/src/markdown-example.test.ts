/**
 * The main job's Markdown handling (examples/markdown), on small samples. These tests live beside the
 * command's because the suite collects tests from the packages; the code is the example's.
 */
import { describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../../examples/markdown/parse.js';
import extractKeywords from '../../../examples/markdown/keywords.worker.mjs';

const parse = (markdown: string, name = 'README.md') => parseMarkdown(markdown, name, name);
const prose = (markdown: string, name?: string) => parse(markdown, name).sections.map((s) => s.text).join('\n\n');
const keywordsOf = (markdown: string) => {
  const doc = parse(markdown);
  return extractKeywords({ text: doc.sections.map((s) => s.text).join('\n\n'), headings: [...doc.headings] }).keywords.map((k) => k.term);
};

describe('parseMarkdown', () => {
  it('splits at headings of any style, titles the document by its first heading, and keeps the text before it', () => {
    const doc = parse('Intro text here.\n\n# Widget\n\nWidgets spin.\n\nUsage\n-----\n\nCall spin() to spin.\n');
    expect(doc.title).toBe('Widget');
    expect(doc.sections).toEqual([
      { heading: 'README.md', text: 'Intro text here.' },
      { heading: 'Widget', text: 'Widgets spin.' },
      { heading: 'Usage', text: 'Call spin() to spin.' },
    ]);
    expect(doc.headings).toEqual(['Widget', 'Usage']);
  });

  it('decodes HTML entities instead of reading them as words', () => {
    expect(prose('Fast&nbsp;and&nbsp;small &amp; safe &copy; &#8212; done.\n')).toBe('Fast and small & safe © — done.');
    expect(keywordsOf('# Tool\n\nFast&nbsp;parsing&nbsp;engine with&nbsp;caching.\n')).not.toContain('nbsp');
  });

  it('leaves out fenced, indented and nested code blocks, inline code and raw HTML', () => {
    const markdown = [
      '# Tool',
      '',
      '<p align="center"><img src="logo.png"></p>',
      '',
      'Parses configuration.',
      '',
      '```js',
      'const secretIdentifier = 1;',
      '```',
      '',
      '    indentedCodeWord()',
      '',
      '- Install it:',
      '',
      '  ```sh',
      '  npm install nestedCodeWord',
      '  ```',
      '',
      'Call `inlineCodeWord` then <b>bold</b> text.',
    ].join('\n');
    const text = prose(markdown);
    expect(text).toBe('Parses configuration.\n\nInstall it:\n\nCall then bold text.');
    for (const word of ['secretIdentifier', 'indentedCodeWord', 'nestedCodeWord', 'inlineCodeWord', 'align', 'logo']) expect(text).not.toContain(word);
  });

  it('keeps the text of links and drops their URLs, bare URLs, images and badges', () => {
    const markdown = '# Tool\n\n[![build](https://ci.example/badge.svg)](https://ci.example) Read [the guide](https://example.com/guide "Guide") or see https://example.com/x and <mail@example.com>. ![diagram](d.png)\n\n[ref]: https://example.com/ref\n';
    expect(prose(markdown)).toBe('Read the guide or see and .');
  });

  it('drops licence and acknowledgement sections up to the next heading of the same level', () => {
    const markdown = [
      '# Tool',
      '',
      'Tool renders templates.',
      '',
      '## License',
      '',
      'MIT © Someone',
      '',
      '### Third-party notices',
      '',
      'Permission is hereby granted, free of charge, to any person obtaining a copy.',
      '',
      '## Templates',
      '',
      'Templates compile once.',
    ].join('\n');
    const doc = parse(markdown);
    expect(doc.sections.map((s) => s.heading)).toEqual(['Tool', 'Templates']);
    expect(doc.headings).toEqual(['Tool', 'Templates']);
  });

  it('drops licence paragraphs outside a licence section and yields nothing for a licence file', () => {
    const text = prose('# Tool\n\nTool renders templates.\n\nCopyright (c) 2024 Someone. All rights reserved.\n\nTHE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.\n');
    expect(text).toBe('Tool renders templates.');
    expect(parse('# MIT License\n\nPermission is hereby granted to deal in the software.\n', 'pkg/LICENSE.md').sections).toEqual([]);
  });

  it('lets the topic, not licence words, lead the keywords of a README with a licence section', () => {
    const markdown = [
      '# Templates',
      '',
      'Templates compile to functions. Templates cache their output. Compiled templates render quickly.',
      '',
      '## License',
      '',
      'Permission is hereby granted, free of charge, to any person obtaining a copy of this software. The software is provided without warranty. In no event shall the authors be liable for any claim, damages or other liability.',
    ].join('\n');
    const keywords = keywordsOf(markdown);
    expect(keywords[0]).toBe('templates');
    for (const word of ['software', 'warranty', 'liability', 'permission', 'granted']) expect(keywords).not.toContain(word);
  });
});
