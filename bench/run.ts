/**
 * Runs every `bench/*.bench.ts` (or those whose file name contains one of the arguments) and prints,
 * per suite, each case's mean time per iteration and skein's time as a multiple of every other case's.
 * `--json [file]` also writes the figures (default `bench-results.json`). `--gc` runs a full garbage
 * collection before every sample (node's `--expose-gc`; the runner restarts itself with it), so that
 * each sample starts from a clean heap and code the collector deoptimised, as real workloads see it;
 * each case then takes a fixed count of samples (50, `SKEIN_BENCH_GC_SAMPLES`, or the suite's own
 * minimum if higher) instead of filling a time budget, and the cases of a suite take their samples in
 * turns (one sample of each, the order rotating every round) so that a change of load on a shared
 * machine hits every case alike; times and ratios are then medians, which one stalled sample does
 * not move.
 *
 *   npm run bench                 # everything
 *   npm run bench -- core flow    # files whose name contains "core" or "flow"
 *   npm run bench -- --gc core    # a full GC before each sample
 *   npm run bench -- --json out.json
 *   npm run bench -- --gc flow --only=Semaphore   # only the suites whose name contains "Semaphore"
 *   npm run bench -- --gc core --no-peers         # only skein's case and the floor of each suite
 *   npm run bench -- --gc --cpu core              # under --gc, time samples by the process's CPU time
 *
 * `--cpu` (with --gc) measures each sample by the CPU time the process spent (all its threads: the
 * compiler's and the collector's helpers included) instead of the wall clock: on a machine shared
 * with other benchmarks, the wall clock also counts the time spent waiting for a core. It also counts
 * the collector's background sweeping after the forced GC, which weighs on samples shorter than a
 * millisecond (the resilience suites): use it for the suites of milliseconds per sample.
 */
import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import type { Suite, TimedSuite, CustomSuite } from './harness.js';

interface CaseResult {
  readonly name: string;
  readonly role: string;
  readonly meanMs: number;
  /** Under --gc only: the median, which the report and the ratios then use instead of the mean. */
  readonly medianMs?: number;
  readonly opsPerSecond: number;
  readonly rmePercent: number;
  readonly samples: number;
}

interface SuiteResult {
  readonly file: string;
  readonly suite: string;
  readonly description: string;
  readonly cases?: readonly CaseResult[];
  /** skein's time (mean, or median under --gc) divided by each other case's: 0.5 = skein takes half as long. */
  readonly ratios?: Readonly<Record<string, number>>;
  readonly figures?: readonly { name: string; value: number; unit: string }[];
}

const args = process.argv.slice(2);
const jsonIndex = args.indexOf('--json');
let jsonPath: string | undefined;
if (jsonIndex !== -1) {
  const next = args[jsonIndex + 1];
  jsonPath = next !== undefined && !next.startsWith('--') ? next : 'bench-results.json';
  args.splice(jsonIndex, next === jsonPath ? 2 : 1);
}
const gcBeforeEachSample = args.includes('--gc');
const collect = (globalThis as { gc?: () => void }).gc;
if (gcBeforeEachSample && collect === undefined) {
  // The flag must reach node itself: run this very script again under --expose-gc.
  const child = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}
const filters = args.filter((arg) => !arg.startsWith('--'));
/** `--only=<text>` (repeatable): run only the suites whose name contains one of the texts. */
/** `--no-peers`: skip the peers' cases (some take seconds per sample), keeping skein's and the floor. */
const skipPeers = args.includes('--no-peers');
const cpuTime = args.includes('--cpu');
const suiteFilters = args.filter((arg) => arg.startsWith('--only=')).map((arg) => arg.slice('--only='.length));
/** Samples per case under --gc (`SKEIN_BENCH_GC_SAMPLES`), each after a full collection. */
const GC_SAMPLES = Number(process.env.SKEIN_BENCH_GC_SAMPLES ?? 50);

const dir = fileURLToPath(new URL('.', import.meta.url));
const files = (await readdir(dir))
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

if (files.length === 0) {
  console.error(`no benchmark file matches ${filters.join(', ')}`);
  process.exit(1);
}

const format = (ms: number): string =>
  ms >= 1 ? `${ms.toFixed(2)} ms` : ms >= 0.001 ? `${(ms * 1000).toFixed(2)} µs` : `${(ms * 1e6).toFixed(0)} ns`;

/**
 * Under --gc: every case takes `GC_SAMPLES` samples (at least the suite's minimum), a full collection
 * before each, in rounds of one sample per case, the starting case rotating each round. Three
 * warm-up calls per case first. Reports each case's median, its mean and the relative margin of
 * error of the mean (95%).
 */
async function runInterleaved(suite: TimedSuite): Promise<CaseResult[]> {
  const cases = suite.cases.filter((c) => !skipPeers || c.role !== 'peer');
  const samples = Math.max(suite.iterations ?? 10, GC_SAMPLES);
  for (const c of cases) for (let i = 0; i < 3; i++) await c.fn();
  const times = cases.map(() => [] as number[]);
  for (let round = 0; round < samples; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (round + k) % cases.length;
      collect!();
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      await cases[index]!.fn();
      const wallMs = performance.now() - start;
      const cpu = process.cpuUsage(cpuStart);
      times[index]!.push(cpuTime ? (cpu.user + cpu.system) / 1_000 : wallMs);
    }
  }
  return cases.map((c, index) => {
    const sorted = [...times[index]!].sort((a, b) => a - b);
    const n = sorted.length;
    const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
    const mean = sorted.reduce((sum, t) => sum + t, 0) / n;
    const sd = Math.sqrt(sorted.reduce((sum, t) => sum + (t - mean) ** 2, 0) / Math.max(1, n - 1));
    return {
      name: c.name,
      role: c.role,
      meanMs: mean,
      medianMs: median,
      opsPerSecond: 1_000 / mean,
      rmePercent: ((1.96 * sd) / Math.sqrt(n) / mean) * 100,
      samples: n,
    };
  });
}

async function runTimed(file: string, suite: TimedSuite): Promise<SuiteResult> {
  // tinybench counts only the measured calls against its time budget, not a GC before each: with a
  // GC per sample, a case of a microsecond would run for minutes to fill a second. So --gc has its own
  // loop, with a fixed number of samples (GC_SAMPLES), whatever they add up to.
  if (gcBeforeEachSample) return report(file, suite, await runInterleaved(suite));
  const bench = new Bench({ time: suite.timeMs ?? 1000, iterations: suite.iterations ?? 10, warmupTime: 200, warmupIterations: 3 });
  for (const benchCase of suite.cases) if (!skipPeers || benchCase.role !== 'peer') bench.add(benchCase.name, benchCase.fn);
  await bench.run();
  const cases: CaseResult[] = [];
  for (const task of bench.tasks) {
    const result = task.result;
    const role = suite.cases.find((c) => c.name === task.name)?.role ?? 'peer';
    if (result.state !== 'completed') {
      const why = result.state === 'errored' ? String(result.error) : result.state;
      throw new Error(`${suite.name} / ${task.name} did not complete: ${why}`);
    }
    cases.push({
      name: task.name,
      role,
      meanMs: result.latency.mean,
      opsPerSecond: result.throughput.mean,
      rmePercent: result.latency.rme,
      samples: result.latency.samplesCount,
    });
  }
  return report(file, suite, cases);
}

/** Prints a suite's cases with skein's time as a multiple of each other case's, and returns them. */
function report(file: string, suite: TimedSuite, cases: readonly CaseResult[]): SuiteResult {
  const time = (c: CaseResult): number => c.medianMs ?? c.meanMs;
  const skein = cases.find((c) => c.role === 'skein');
  const ratios: Record<string, number> = {};
  if (skein !== undefined) {
    for (const other of cases) if (other !== skein) ratios[other.name] = time(skein) / time(other);
  }
  console.log(`\n## ${suite.name}\n${suite.description}`);
  for (const c of cases) {
    let ratio = '';
    if (skein !== undefined && c !== skein) {
      const r = ratios[c.name]!;
      ratio = `   skein = ${r.toPrecision(3)}x this${r < 1 ? ` (this takes ${(1 / r).toPrecision(3)}x skein's time)` : ''}`;
    }
    console.log(`  ${c.name.padEnd(38)} ${format(time(c)).padStart(11)} ±${c.rmePercent.toFixed(1).padStart(4)}%${ratio}`);
  }
  return { file, suite: suite.name, description: suite.description, cases, ratios };
}

async function runCustom(file: string, suite: CustomSuite): Promise<SuiteResult> {
  const figures = await suite.run();
  console.log(`\n## ${suite.name}\n${suite.description}`);
  for (const f of figures) console.log(`  ${f.name.padEnd(38)} ${f.value.toLocaleString('en-US', { maximumFractionDigits: 2 })} ${f.unit}`);
  return { file, suite: suite.name, description: suite.description, figures: [...figures] };
}

const results: SuiteResult[] = [];
console.log(
  `skein benchmarks, node ${process.version}, ${new Date().toISOString()}${gcBeforeEachSample ? ', a full GC before each sample' : ''}${gcBeforeEachSample && cpuTime ? ', CPU time' : ''}`,
);
console.log(
  `Times are ${gcBeforeEachSample ? 'medians (cases sampled in turns)' : 'means'} per iteration; "skein = Nx this" is skein's time divided by that case's (below 1: skein is faster).`,
);
for (const file of files) {
  const module = (await import(pathToFileURL(join(dir, file)).href)) as { default: Suite | readonly Suite[] };
  const suites = Array.isArray(module.default) ? (module.default as readonly Suite[]) : [module.default as Suite];
  for (const suite of suites) {
    if (suiteFilters.length > 0 && !suiteFilters.some((text) => suite.name.includes(text))) continue;
    results.push(suite.kind === 'timed' ? await runTimed(file, suite) : await runCustom(file, suite));
  }
}

if (jsonPath !== undefined) {
  const run = { node: process.version, date: new Date().toISOString(), gcBeforeEachSample, results };
  await writeFile(jsonPath, `${JSON.stringify(run, null, 2)}\n`);
  console.log(`\nwrote ${jsonPath}`);
}
