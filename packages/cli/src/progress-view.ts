/**
 * What the progress view looks like: pure functions from a snapshot to text. The TTY renderer
 * redraws {@link progressFrame} in place; the plain renderer prints {@link progressLine} now and then.
 */
import { formatCount, formatDuration, table, type Palette } from './format.js';
import type { ProgressSnapshot } from './progress-model.js';
import { clusterText, resumedText, type ClusterState, type ResumedState } from './summary.js';

/** The fixed facts shown above the counters. */
export interface ViewHeader {
  readonly workflow: string;
  /** Inputs published so far and in all, when known. */
  readonly inputs?: { readonly published: number; readonly total: number | undefined };
  /** With `--store`: what the board found in the store and resumed. */
  readonly resumed?: ResumedState;
  /** `skein run` (the default) or `skein worker`. */
  readonly role?: 'run' | 'worker';
  /** Sharing the store: what it says of every worker, refreshed at most once a second. */
  readonly cluster?: ClusterState;
}

/** The multi-line frame for a terminal: a header line, then one row per agent. */
export function progressFrame(snapshot: ProgressSnapshot, header: ViewHeader, colors: Palette): string {
  const inputs = header.inputs === undefined ? '' : `   inputs ${inputsText(header.inputs)}`;
  const lines = [
    `${colors.bold(`skein ${header.role ?? 'run'} ${header.workflow}`)}   ${formatDuration(snapshot.elapsedMs)}   published ${formatCount(snapshot.published)}${inputs}`,
  ];
  if (header.resumed !== undefined) lines.push(colors.dim(`  ${resumedText(header.resumed)}`));
  if (header.cluster !== undefined) lines.push(`  ${clusterText(header.cluster)}`);
  lines.push('');
  const rows: string[][] = [['agent', 'queued', 'running', 'done', 'failed', 'retries', 'runs/s'].map((h) => colors.dim(h))];
  for (const agent of snapshot.agents) {
    rows.push([
      colors.cyan(agent.name),
      formatCount(agent.queued),
      agent.running > 0 ? colors.yellow(formatCount(agent.running)) : '0',
      colors.green(formatCount(agent.done)),
      agent.failed > 0 ? colors.red(formatCount(agent.failed)) : '0',
      agent.retries > 0 ? colors.yellow(formatCount(agent.retries)) : '0',
      agent.runsPerSecond.toFixed(1),
    ]);
  }
  lines.push(...table(rows).map((line) => `  ${line}`));
  if (snapshot.recentFailures.length > 0) {
    lines.push('', ...snapshot.recentFailures.map((failure) => colors.red(`  failed: ${failure}`)));
  }
  if (snapshot.lostEvents > 0) lines.push('', colors.yellow(`  (the view fell behind and missed ${formatCount(snapshot.lostEvents)} events)`));
  return lines.join('\n');
}

/** One plain line for logs and pipes: elapsed, published, then `agent done/running/queued` per agent. */
export function progressLine(snapshot: ProgressSnapshot, header: ViewHeader): string {
  const parts = [`[${formatDuration(snapshot.elapsedMs).padStart(7)}] published ${snapshot.published}`];
  if (header.inputs !== undefined) parts[0] += `, inputs ${inputsText(header.inputs)}`;
  if (header.cluster !== undefined) parts.push(clusterText(header.cluster));
  for (const agent of snapshot.agents) {
    let text = `${agent.name} ${agent.done} done, ${agent.running} running, ${agent.queued} queued`;
    if (agent.failed > 0) text += `, ${agent.failed} failed`;
    if (agent.retries > 0) text += `, ${agent.retries} retries`;
    parts.push(text);
  }
  return parts.join(' | ');
}

function inputsText(inputs: NonNullable<ViewHeader['inputs']>): string {
  return inputs.total === undefined ? formatCount(inputs.published) : `${formatCount(inputs.published)}/${formatCount(inputs.total)}`;
}
