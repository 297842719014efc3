/**
 * The README is also the package's page on the registry, where relative links lead nowhere: every
 * link in it is an absolute URL, and the ones into this repository name files that exist.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const repository = 'https://github.com/skein-js/skein/blob/main/';
const readme = await readFile(join(root, 'README.md'), 'utf8');
const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!);

describe('the README', () => {
  it('has links, all absolute URLs', () => {
    expect(links.length).toBeGreaterThan(0);
    expect(links.filter((link) => !/^https:\/\//.test(link))).toEqual([]);
  });

  it('links only to files of this repository that exist', async () => {
    const missing: string[] = [];
    for (const link of links.filter((link) => link.startsWith(repository))) {
      const path = link.slice(repository.length).split('#')[0]!;
      await access(join(root, path)).catch(() => missing.push(path));
    }
    expect(missing).toEqual([]);
  });

  it('names the repository that package.json names', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { repository: { url: string } };
    expect(pkg.repository.url).toBe(`git+${repository.replace('/blob/main/', '')}.git`);
  });
});
