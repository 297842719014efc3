/**
 * The end-of-run summary: one object (printed as JSON with `--json`) and its text form, a table of
 * runs, failures, retries and run-time percentiles per agent, then where the outputs went.
 */
import { formatCount, formatDuration, formatRunTime, table, type Palette } from './format.js';
import type { AgentTimings, ProgressSnapshot } from './progress-model.js';
import type { WorkflowResult } from './workflow.js';

/** How a run ended. */
export type RunStatus = 'completed' | 'failed' | 'interrupted' | 'timed-out';

/** The summary of one `skein run`, as `--json` prints it. */
export interface RunSummary {
  readonly workflow: string;
  readonly status: RunStatus;
  readonly exitCode: number;
  readonly elapsedMs: number;
  readonly published: number;
  readonly publishedByType: Readonly<Record<string, number>>;
  readonly agents: readonly AgentTimings[];
  readonly outputs: NonNullable<WorkflowResult['outputs']>;
  readonly notes: readonly string[];
  /** Why the run did not complete, when it did not. */
  readonly reason?: string;
  /** Where the failed runs' dead letters are, when some run failed for good (one dead letter per failed run). */
  readonly deadLetters?: DeadLetterPlace;
  /** The `--trace` file, which holds every event, each failure with its error among them. */
  readonly trace?: string;
  /** With `--store`: what the run found in the store and resumed. */
  readonly resumed?: ResumedState;
  /** Sharing the store: runs that failed for good on other workers during the run (their dead letters). */
  readonly failedOnWorkers?: number;
}

/** What a run found in its store when it started: `board.resume()`'s counts and the inputs skipped. */
export interface ResumedState {
  /** Runs that were queued, started again. */
  readonly queued: number;
  /** Runs that were running when the previous process stopped, queued again (they run again). */
  readonly requeued: number;
  /** Open batches and joins with a deadline, armed again. */
  readonly gates: number;
  /** Inputs a previous run had published, not published again. */
  readonly inputs: number;
}

/** What a shared store says of every worker (`skein run --store postgres://…`, `skein worker`). */
export interface ClusterState {
  /** Runs queued in active workflows, on any worker's agents. */
  readonly queued: number;
  /** Runs queued in paused workflows. */
  readonly paused: number;
  /** Runs running on any worker. */
  readonly running: number;
  /** Distinct owners (boards, that is workers) holding running runs. */
  readonly workers: number;
  /** Open batches and joins waiting for their deadline. */
  readonly timedGates: number;
}

/** Where a run's dead letters were recorded: how many, and in which store. */
export interface DeadLetterPlace {
  readonly count: number;
  /** The store's class name, such as `MemoryStore`. */
  readonly store: string;
  /** False for a store that lives in this process only (its dead letters end with it). */
  readonly durable: boolean;
}

export function buildSummary(input: {
  workflow: string;
  status: RunStatus;
  exitCode: number;
  snapshot: ProgressSnapshot;
  timings: readonly AgentTimings[];
  result?: WorkflowResult | undefined;
  reason?: string | undefined;
  /** The board's store, whose class names where the dead letters are. */
  store?: unknown;
  trace?: string | undefined;
  resumed?: ResumedState | undefined;
  cluster?: ClusterState | undefined;
  failedOnWorkers?: number | undefined;
}): RunSummary {
  const failed = input.timings.reduce((sum, t) => sum + t.failed, 0);
  return {
    workflow: input.workflow,
    status: input.status,
    exitCode: input.exitCode,
    elapsedMs: Math.round(input.snapshot.elapsedMs),
    published: input.snapshot.published,
    publishedByType: input.snapshot.publishedByType,
    agents: input.timings.map((t) => ({ ...t, p50Ms: round(t.p50Ms), p99Ms: round(t.p99Ms), maxMs: round(t.maxMs) })),
    outputs: input.result?.outputs ?? [],
    notes: input.result?.notes ?? [],
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    ...(failed === 0 ? {} : { deadLetters: deadLetterPlace(failed, input.store) }),
    ...(input.trace === undefined ? {} : { trace: input.trace }),
    ...(input.resumed === undefined ? {} : { resumed: input.resumed }),
    ...(input.failedOnWorkers === undefined || input.failedOnWorkers === 0 ? {} : { failedOnWorkers: input.failedOnWorkers }),
  };
}

/** Stores that keep nothing past the process; any other store is taken to be durable. */
const IN_PROCESS_STORES = new Set(['MemoryStore']);

function deadLetterPlace(count: number, store: unknown): DeadLetterPlace {
  const name = (store as { constructor?: { name?: unknown } } | undefined)?.constructor?.name;
  const storeName = typeof name === 'string' && name !== '' && name !== 'Object' ? name : 'MemoryStore';
  return { count, store: storeName, durable: !IN_PROCESS_STORES.has(storeName) };
}

const STATUS_TEXT: Record<RunStatus, string> = {
  completed: 'completed',
  failed: 'completed with failures',
  interrupted: 'interrupted',
  'timed-out': 'timed out',
};

/** The summary as text for a terminal or a log. */
export function formatSummary(summary: RunSummary, colors: Palette): string {
  const status = STATUS_TEXT[summary.status];
  const statusText = summary.status === 'completed' ? colors.green(status) : summary.status === 'failed' ? colors.yellow(status) : colors.red(status);
  const lines = [
    `${colors.bold(summary.workflow)} ${statusText} in ${formatDuration(summary.elapsedMs)}: ${formatCount(summary.published)} artifacts published`,
  ];
  if (summary.reason !== undefined) lines.push(`  ${summary.reason}`);
  if (summary.resumed !== undefined && resumedSomething(summary.resumed)) lines.push(`  ${resumedText(summary.resumed)}`);
  lines.push('');
  const rows: string[][] = [['agent', 'runs', 'failed', 'cancelled', 'retries', 'p50', 'p99'].map((h) => colors.dim(h))];
  for (const agent of summary.agents) {
    rows.push([
      colors.cyan(agent.name),
      formatCount(agent.runs),
      agent.failed > 0 ? colors.red(formatCount(agent.failed)) : '0',
      formatCount(agent.cancelled),
      agent.retries > 0 ? colors.yellow(formatCount(agent.retries)) : '0',
      formatRunTime(agent.p50Ms),
      formatRunTime(agent.p99Ms),
    ]);
  }
  lines.push(...table(rows).map((line) => `  ${line}`));
  lines.push(...usageLines(summary, colors));
  const unfinished = summary.agents.filter((a) => a.unfinished > 0);
  if (unfinished.length > 0) {
    const list = unfinished.map((a) => `${a.unfinished} of ${a.name}`).join(', ');
    lines.push('', colors.yellow(`  runs that never ended (they ignored the abort past the grace period): ${list}`));
  }
  lines.push(...failureLines(summary, colors));
  if (summary.failedOnWorkers !== undefined) {
    lines.push('', colors.red(`  ${formatCount(summary.failedOnWorkers)} runs failed for good on other workers: list them with board.deadLetters()`));
  }
  const board = boardNotes(summary.publishedByType);
  if (board.length > 0) lines.push('', ...board.map((note) => colors.yellow(`  ${note}`)));
  if (summary.notes.length > 0) lines.push('', ...summary.notes.map((note) => `  ${note}`));
  if (summary.outputs.length > 0) {
    lines.push('');
    for (const output of summary.outputs) lines.push(`${output.label}: ${colors.bold(output.path)}`);
  }
  return lines.join('\n');
}

/** What agents reported using (a model's tokens and requests), one line per agent that reported any. */
function usageLines(summary: RunSummary, colors: Palette): string[] {
  const using = summary.agents.filter((a) => a.usage !== undefined);
  if (using.length === 0) return [];
  return ['', colors.dim('  usage'), ...using.map((a) => `  ${colors.cyan(a.name)}: ${Object.entries(a.usage!).map(([name, value]) => `${name} ${formatCount(value)}`).join(', ')}`)];
}

/**
 * Why runs failed, per agent: the count and the first distinct messages, then where the dead letters
 * are. Printed with the summary (stdout), so a pipe or a CI log has it too, not only a live terminal.
 */
function failureLines(summary: RunSummary, colors: Palette): string[] {
  const failing = summary.agents.filter((a) => a.failed > 0);
  if (failing.length === 0) return [];
  const lines = [''];
  for (const agent of failing) {
    lines.push(`  ${colors.red(`${agent.name}: ${formatCount(agent.failed)} run${agent.failed === 1 ? '' : 's'} failed for good`)}`);
    for (const error of agent.errors) lines.push(`    ${error.message}${agent.failed > 1 ? colors.dim(` (${formatCount(error.count)}x)`) : ''}`);
    const others = agent.failed - agent.errors.reduce((sum, e) => sum + e.count, 0);
    if (others > 0) lines.push(colors.dim(`    and ${formatCount(others)} with other errors`));
  }
  const letters = summary.deadLetters;
  if (letters !== undefined) {
    const where = letters.durable
      ? `in the board's ${letters.store}: list them with board.deadLetters(), replay with board.replayDeadLetter(id)`
      : `in the board's ${letters.store}, which ends with this process: read them in the workflow's finish() with board.deadLetters(), or use a durable store`;
    lines.push(`  dead letters: ${formatCount(letters.count)} ${where}`);
  }
  lines.push(
    summary.trace === undefined
      ? colors.dim('  every failure with its error: run again with --trace <file>')
      : `  every failure with its error is in the trace: ${summary.trace}`,
  );
  return lines;
}

/** What the board itself published about trouble: expired joins and stopped loops (failures are in the table). */
function boardNotes(publishedByType: Readonly<Record<string, number>>): string[] {
  const notes: string[] = [];
  const expired = publishedByType.JoinExpired ?? 0;
  const loops = publishedByType.LoopDetected ?? 0;
  if (expired > 0) notes.push(`${formatCount(expired)} join${expired === 1 ? '' : 's'} expired before every input arrived (JoinExpired on the board)`);
  if (loops > 0) notes.push(`${formatCount(loops)} agent run limit${loops === 1 ? ' was' : 's were'} reached (LoopDetected on the board)`);
  return notes;
}

function round(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.round(ms * 100) / 100;
}

/** True when the store held anything of a previous run. */
export function resumedSomething(resumed: ResumedState): boolean {
  return resumed.queued + resumed.requeued + resumed.gates + resumed.inputs > 0;
}

/** `resumed: 12 queued, 3 requeued, 1 gate; 40 inputs published before` (or `nothing to resume`). */
export function resumedText(resumed: ResumedState): string {
  if (!resumedSomething(resumed)) return 'resumed: nothing to resume (a new run)';
  const gates = `${formatCount(resumed.gates)} ${resumed.gates === 1 ? 'gate' : 'gates'}`;
  const inputs = `${formatCount(resumed.inputs)} ${resumed.inputs === 1 ? 'input' : 'inputs'} published before`;
  return `resumed: ${formatCount(resumed.queued)} queued, ${formatCount(resumed.requeued)} requeued, ${gates}; ${inputs}`;
}

/** `all workers: 120 queued, 8 running on 3 workers, 1 timed gate` (and paused runs when there are). */
export function clusterText(cluster: ClusterState): string {
  const paused = cluster.paused > 0 ? `, ${formatCount(cluster.paused)} paused` : '';
  const workers = `${formatCount(cluster.workers)} ${cluster.workers === 1 ? 'worker' : 'workers'}`;
  const gates = `${formatCount(cluster.timedGates)} timed ${cluster.timedGates === 1 ? 'gate' : 'gates'}`;
  return `all workers: ${formatCount(cluster.queued)} queued${paused}, ${formatCount(cluster.running)} running on ${workers}, ${gates}`;
}
