#!/usr/bin/env node
/**
 * The `skein` executable. From a checkout, run it through tsx (`npx tsx packages/cli/src/bin.ts run ...`, as
 * `npm start` does); installed, `skein run flow.ts` loads TypeScript workflows through tsx's loader.
 */
import { runCli } from './program.js';

await runCli(process.argv.slice(2));
