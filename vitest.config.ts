import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));
const cli = fileURLToPath(new URL('./packages/cli/src/index.ts', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^skein$/, replacement: src('index.ts') },
      { find: /^skein\/node$/, replacement: src('runtime/index.ts') },
      { find: /^skein\/worker$/, replacement: src('runtime/worker-pool.ts') },
      { find: /^skein\/board\/sqlite$/, replacement: src('board/stores/sqlite/index.ts') },
      { find: /^skein\/board\/postgres$/, replacement: src('board/stores/postgres/index.ts') },
      { find: /^skein\/(.*)$/, replacement: src('$1/index.ts') },
      { find: /^@skein\/cli$/, replacement: cli },
    ],
  },
  test: {
    include: ['src/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // Unhandled rejections and uncaught errors fail the run (vitest's default, stated here on purpose).
    dangerouslyIgnoreUnhandledErrors: false,
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // CI also writes a JSON report, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.tmp/vitest-report.json' },
  },
});
