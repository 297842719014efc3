/**
 * Every ```ts block in docs/*.md and README.md runs here as a module (imports of `skein` resolve to
 * the source), so the documentation cannot drift from the code. A block fenced as ```ts no-run is
 * shown but not run (for sketches that need a network or a terminal). Blocks check themselves with
 * node:assert; a block that throws fails its test.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it, afterAll } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(root, '.tmp', 'docs-examples', String(process.pid));

interface Example {
  readonly page: string;
  readonly line: number;
  readonly code: string;
}

function extract(page: string, text: string): Example[] {
  const examples: Example[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(ts|typescript)(\s+.*)?$/.exec(lines[i]!.trim());
    if (fence === null) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    if (!(fence[2] ?? '').includes('no-run')) {
      examples.push({ page, line: start, code: lines.slice(start, end).join('\n') });
    }
    i = end;
  }
  return examples;
}

const pages = [
  'README.md',
  ...(await readdir(join(root, 'docs')).catch(() => [] as string[]))
    .filter((file) => file.endsWith('.md'))
    .map((file) => `docs/${file}`),
];
const examples = (
  await Promise.all(pages.map(async (page) => extract(page, await readFile(join(root, page), 'utf8'))))
).flat();

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe('documentation examples', () => {
  it('finds examples to run', ({ expect }) => {
    expect(examples.length).toBeGreaterThan(0);
  });

  for (const example of examples) {
    it(`${example.page}:${example.line} runs`, async () => {
      await mkdir(outDir, { recursive: true });
      const file = join(outDir, `${example.page.replace(/[/.]/g, '_')}_${example.line}.ts`);
      await writeFile(file, `${example.code}\nexport {};\n`);
      await import(pathToFileURL(file).href);
    });
  }
});
