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
}

export function buildSummary(input: {
  workflow: string;
  status: RunStatus;
  exitCode: number;
  snapshot: ProgressSnapshot;
  timings: readonly AgentTimings[];
  result?: WorkflowResult | undefined;
  reason?: string | undefined;
}): RunSummary {
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
  };
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
  const unfinished = summary.agents.filter((a) => a.unfinished > 0);
  if (unfinished.length > 0) {
    const list = unfinished.map((a) => `${a.unfinished} of ${a.name}`).join(', ');
    lines.push('', colors.yellow(`  runs that never ended (they ignored the abort past the grace period): ${list}`));
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
