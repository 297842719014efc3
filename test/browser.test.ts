/**
 * skein's primitives in a real browser: bundled for the browser with esbuild (which fails on any
 * `node:` import in the graph) and run in headless Chromium. Skipped, with the reason printed, only
 * where no Chromium can be had. The size budget is checked here too: `gather` alone, bundled and
 * minified as an app would ship it, stays under 3 kB gzipped.
 */
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, stop } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumUnavailable, runInChromium } from './chromium.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const GATHER_BUDGET_BYTES = 3 * 1024;

/** Bundles `contents` for the browser; `skein` resolves to the sources through tsconfig paths. */
async function bundle(contents: string, options: { minify?: boolean; globalName?: string } = {}): Promise<string> {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: 'entry.ts' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: options.globalName === undefined ? 'esm' : 'iife',
    target: 'es2022',
    tsconfig: `${root}/tsconfig.json`,
    logLevel: 'silent',
    ...options,
  });
  return result.outputFiles[0]!.text;
}

afterAll(async () => {
  await stop();
});

describe('the browser build', () => {
  it('bundles the whole root entry for the browser with no node: import', async () => {
    const code = await bundle("export * from 'skein';");
    expect(code).not.toMatch(/["']node:/);
  });

  it('keeps gather alone under 3 kB gzipped', async () => {
    const code = await bundle("export { gather } from 'skein';", { minify: true });
    const gzipped = gzipSync(code).length;
    console.log(`gather alone: ${code.length} bytes minified, ${gzipped} bytes gzipped (budget ${GATHER_BUDGET_BYTES})`);
    expect(gzipped).toBeLessThanOrEqual(GATHER_BUDGET_BYTES);
  });
});

const unavailable = chromiumUnavailable();
if (unavailable !== undefined) console.warn(`skipping the headless Chromium tests: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('the primitives in headless Chromium', () => {
  it('run as they do in Node', async () => {
    const script = await bundle("export { run } from './test/browser/primitives.ts';", { globalName: 'skeinPrimitives' });
    const results = await runInChromium(script, 'skeinPrimitives.run()');
    expect(results).toEqual({
      gather: { failed: 'boom', siblingSaw: 'CancelledError' },
      scope: 42,
      timeout: true,
      race: 'fast',
      map: [1, 4, 9, 16, 25],
      peak: 2,
      locks: ['semaphore', 'mutex'],
      channel: 6,
      retry: 'ok after 3',
    });
  });
});
