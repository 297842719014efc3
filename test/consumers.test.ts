/**
 * The packed tarball as users install it: `npm pack` (which builds through `prepack`), then an
 * offline install into a fresh directory outside the repository, shared by four consumer projects:
 * TypeScript with `nodenext` and with `bundler` resolution (neither with skipLibCheck), CommonJS
 * `require`, and an esbuild browser bundle run in headless Chromium. TypeScript and esbuild come
 * from the repository's own node_modules; nothing is fetched.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build, stop } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumUnavailable, runInChromium } from './chromium.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const sources = join(root, 'test', 'consumers');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const matrix: string[] = [];

let work: string;
let tarballPath: string;

interface PackResult {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly entryCount: number;
}

/** Writes a consumer project: its package.json, tsconfig (if any) and its source file. */
async function project(name: string, files: { packageJson: object; tsconfig?: object; source: string; as: string }): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, ...files.packageJson }));
  if (files.tsconfig !== undefined) await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(files.tsconfig));
  await copyFile(join(sources, files.source), join(dir, files.as));
  return dir;
}

/** Runs `args` with `cwd`; a failure's error carries the command's whole output. */
async function exec(file: string, args: readonly string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}:\n${stdout}${stderr}`, { cause: error });
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'skein-consumers-'));
  const packed = JSON.parse(await exec(npm, ['pack', '--json', '--pack-destination', work], root)) as PackResult[];
  const tarball = packed[0]!;
  tarballPath = join(work, tarball.filename);
  matrix.push(`tarball ${tarball.filename}: ${tarball.size} bytes packed, ${tarball.unpackedSize} unpacked, ${tarball.entryCount} files`);
  await writeFile(join(work, 'package.json'), JSON.stringify({ name: 'skein-consumers', private: true }));
  await exec(npm, ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', join(work, tarball.filename)], work);
}, 300_000);

afterAll(async () => {
  await stop();
  console.log(`consumer matrix:\n  ${matrix.join('\n  ')}`);
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('ships the build, and installs as one package with no dependencies', async () => {
    const installed = (await readdir(join(work, 'node_modules'))).filter((name) => !name.startsWith('.'));
    expect(installed).toEqual(['skein']);
    const dist = await readdir(join(work, 'node_modules', 'skein', 'dist'));
    expect(dist).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'index.d.ts.map']));
    matrix.push(`install: ${installed.length} package (${installed.join(', ')})`);
  });

  it('passes publint --strict and are-the-types-wrong with the esm-only profile', async () => {
    const bin = (name: string) => join(root, 'node_modules', '.bin', name);
    await exec(bin('publint'), ['run', tarballPath, '--strict'], work);
    await exec(bin('attw'), [tarballPath, '--profile', 'esm-only', '--format', 'table'], work);
    matrix.push('publint --strict: clean; attw --profile esm-only: clean');
  }, 120_000);

  it('type-checks and runs in a TypeScript project with nodenext resolution, without skipLibCheck', async () => {
    const dir = await project('nodenext', {
      packageJson: { type: 'module' },
      tsconfig: {
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2023'],
          strict: true,
          outDir: 'out',
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        files: ['index.ts'],
      },
      source: 'nodenext.ts',
      as: 'index.ts',
    });
    await exec(process.execPath, [tsc, '-p', dir], dir);
    const output = JSON.parse(await exec(process.execPath, ['out/index.js'], dir)) as unknown;
    expect(output).toEqual({ gather: [1, 'two'], board: ['hello'], node: ['function', 'function'], names: ['AbortError', 'function', true], serve: [true, true], llm: ["skein/llm needs the AI SDK: install the 'ai' package (version 6)", 'BudgetExceededError'] });
    matrix.push('TypeScript nodenext (no skipLibCheck): type-checks, runs');
  }, 120_000);

  it('type-checks in a browser TypeScript project with bundler resolution and no Node types', async () => {
    const dir = await project('bundler', {
      packageJson: { type: 'module' },
      tsconfig: {
        compilerOptions: {
          module: 'esnext',
          moduleResolution: 'bundler',
          target: 'es2022',
          lib: ['es2022', 'dom', 'esnext.disposable'],
          strict: true,
          noEmit: true,
          types: [],
        },
        files: ['index.ts'],
      },
      source: 'bundler.ts',
      as: 'index.ts',
    });
    await exec(process.execPath, [tsc, '-p', dir], dir);
    matrix.push('TypeScript bundler, DOM, no Node types (no skipLibCheck): type-checks');
  }, 120_000);

  it('loads with require() in a CommonJS project', async () => {
    const dir = await project('cjs', { packageJson: { type: 'commonjs' }, source: 'require.cjs', as: 'index.cjs' });
    const output = JSON.parse(await exec(process.execPath, ['index.cjs'], dir)) as unknown;
    expect(output).toEqual({ gather: ['a', 'b'], main: 'function', board: 'function' });
    matrix.push(`CommonJS require() on Node ${process.versions.node}: loads, runs`);
  }, 60_000);

  const unavailable = chromiumUnavailable();
  it.skipIf(unavailable !== undefined)('bundles for the browser with esbuild and runs in headless Chromium', async () => {
    const dir = await project('browser', { packageJson: { type: 'module' }, source: 'browser.ts', as: 'index.ts' });
    const result = await build({
      entryPoints: [join(dir, 'index.ts')],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'iife',
      globalName: 'consumer',
      logLevel: 'silent',
    });
    const script = result.outputFiles[0]!.text;
    expect(script).not.toMatch(/["']node:/);
    expect(await runInChromium(script, 'consumer.run()')).toEqual({ pair: ['a', 'b'], total: 42 });
    matrix.push('esbuild browser bundle: runs in headless Chromium');
  }, 120_000);
  if (unavailable !== undefined) {
    console.warn(`skipping the browser consumer: ${unavailable}`);
    matrix.push(`esbuild browser bundle: skipped (${unavailable})`);
  }
});
