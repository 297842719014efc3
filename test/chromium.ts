/**
 * Headless Chromium for the tests that run skein in a browser: Debian's `chromium` package, found
 * on PATH (`.ci/run` installs it), driven through playwright-core. The machine has no internet, so
 * the browser is started with its background networking, updates and sync turned off.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

/** The `chromium` executable on PATH, or undefined when there is none. */
export function findChromium(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    for (const name of ['chromium', 'chromium-browser']) {
      const path = join(dir, name);
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** Why the browser tests are skipped on this machine, or undefined when they can run. */
export function chromiumUnavailable(): string | undefined {
  return findChromium() === undefined
    ? 'no chromium on PATH (Debian: apt-get install -y chromium; .ci/run does this)'
    : undefined;
}

/**
 * Runs `script` (an IIFE bundle) in a blank page and returns what `expression` evaluates to after
 * it, awaited. Anything the page logs as an error, or throws, fails the call.
 */
export async function runInChromium(script: string, expression: string): Promise<unknown> {
  const executablePath = findChromium();
  if (executablePath === undefined) throw new Error(chromiumUnavailable());
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto('about:blank');
    await page.addScriptTag({ content: script });
    const result: unknown = await page.evaluate(`(async () => await (${expression}))()`);
    if (errors.length > 0) throw new Error(`errors in the page: ${errors.join('; ')}`);
    return result;
  } finally {
    await browser.close();
  }
}

/**
 * Launches headless Chromium the same way, hands a fresh page to `fn` and closes the browser after
 * it, whatever happens. Anything the page throws fails the call.
 */
export async function withChromiumPage<T>(fn: (page: Page) => Promise<T>): Promise<T> {
  const executablePath = findChromium();
  if (executablePath === undefined) throw new Error(chromiumUnavailable());
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const result = await fn(page);
    if (errors.length > 0) throw new Error(`errors in the page: ${errors.join('; ')}`);
    return result;
  } finally {
    await browser.close();
  }
}
