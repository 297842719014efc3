import { describe, expect, it } from 'vitest';
import { colorFor, formatDuration, formatRunTime, palette, table, visibleWidth } from './format.js';
import type { ProgressSnapshot } from './progress-model.js';
import { progressFrame, progressLine } from './progress-view.js';
import { LineRenderer, type OutputStream } from './renderer.js';
import { fitWidth, TtyRenderer } from './tty-renderer.js';
import { buildSummary, formatSummary } from './summary.js';

const plain = palette(false);

function snapshot(overrides: Partial<ProgressSnapshot> = {}): ProgressSnapshot {
  return {
    elapsedMs: 1_500,
    published: 42,
    publishedByType: { Doc: 2, Part: 40 },
    agents: [
      { name: 'read', queued: 3, running: 2, done: 10, failed: 0, cancelled: 0, retries: 4, runsPerSecond: 6.5 },
      { name: 'summarise', queued: 0, running: 0, done: 7, failed: 1, cancelled: 0, retries: 0, runsPerSecond: 0 },
    ],
    lostEvents: 0,
    idle: false,
    recentFailures: [],
    ...overrides,
  };
}

/** A stream that records what was written. */
function recorder(isTTY = false): OutputStream & { text: () => string; writes: string[] } {
  const writes: string[] = [];
  return { isTTY, columns: 100, rows: 30, writes, write: (text: string) => writes.push(text), text: () => writes.join('') };
}

describe('progressFrame', () => {
  it('shows elapsed time, artifacts, inputs and one aligned row per agent', () => {
    const frame = progressFrame(snapshot(), { workflow: 'demo', inputs: { published: 2, total: 5 } }, plain);
    expect(frame.split('\n')).toEqual([
      'skein run demo   1.5 s   published 42   inputs 2/5',
      '',
      '  agent      queued  running  done  failed  retries  runs/s',
      '  read            3        2    10       0        4     6.5',
      '  summarise       0        0     7       1        0     0.0',
    ]);
  });

  it('lists recent failures and says when events were lost', () => {
    const frame = progressFrame(snapshot({ recentFailures: ['read: EIO'], lostEvents: 3 }), { workflow: 'demo' }, plain);
    expect(frame).toContain('failed: read: EIO');
    expect(frame).toContain('missed 3 events');
  });
});

describe('progressLine', () => {
  it('is one plain line with every agent', () => {
    expect(progressLine(snapshot(), { workflow: 'demo', inputs: { published: 2, total: undefined } })).toBe(
      '[  1.5 s] published 42, inputs 2 | read 10 done, 2 running, 3 queued, 4 retries | summarise 7 done, 0 running, 0 queued, 1 failed',
    );
  });
});

describe('LineRenderer', () => {
  it('prints at most one line per interval of run time', () => {
    const stream = recorder();
    const renderer = new LineRenderer(stream, { minIntervalMs: 1_000 });
    for (const elapsedMs of [0, 100, 900, 1_000, 1_500, 2_100]) renderer.render(snapshot({ elapsedMs }), { workflow: 'demo' });
    renderer.close();
    expect(stream.writes.map((line) => line.slice(0, 9))).toEqual(['[   0 ms]', '[  1.0 s]', '[  2.1 s]']);
    expect(stream.writes.every((line) => line.endsWith('\n') && !line.includes('\u001b'))).toBe(true);
  });
});

describe('TtyRenderer', () => {
  it('redraws the frame in place and clears it on close', () => {
    const stream = recorder(true);
    const renderer = new TtyRenderer(stream, plain);
    renderer.render(snapshot({ elapsedMs: 100 }), { workflow: 'demo' });
    renderer.render(snapshot({ elapsedMs: 200 }), { workflow: 'demo' });
    renderer.close();
    const output = stream.text();
    expect(output).toContain('skein run demo   100 ms');
    expect(output).toContain('skein run demo   200 ms');
    // The second frame starts by erasing the first one's lines (cursor up + erase line).
    const second = stream.writes.find((w) => w.includes('200 ms'))!;
    expect(second).toContain('\u001b[2K\u001b[1A');
  });

  it('cuts every line to a narrow terminal instead of letting it wrap, so each redraw erases the whole frame', () => {
    const stream = { ...recorder(true), columns: 30 };
    const renderer = new TtyRenderer(stream, plain);
    renderer.render(snapshot({ recentFailures: ['summarise: a failure message far longer than thirty columns'] }), { workflow: 'markdown-report' });
    renderer.render(snapshot({ elapsedMs: 2_000 }), { workflow: 'markdown-report' });
    renderer.close();
    // eslint-disable-next-line no-control-regex
    const lines = stream.writes.join('').replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').split('\n');
    expect(lines.some((line) => line.startsWith('skein run markdown-report') && line.endsWith('…'))).toBe(true);
    for (const line of lines) expect(visibleWidth(line)).toBeLessThanOrEqual(30);
  });

  it('still draws in a terminal that reports no size', () => {
    const stream = { ...recorder(true), columns: 0, rows: 0 };
    const renderer = new TtyRenderer(stream, plain);
    renderer.render(snapshot(), { workflow: 'demo' });
    renderer.close();
    expect(stream.text()).toContain('skein run demo');
  });
});

describe('fitWidth', () => {
  it('cuts lines wider than the terminal with an ellipsis, keeping colours closed, and leaves short lines alone', () => {
    const colors = palette(true);
    const frame = `${colors.red('a red line that is too long')}\nshort`;
    const [cut, short] = fitWidth(frame, 10).split('\n');
    expect(visibleWidth(cut!)).toBe(10);
    expect(cut).toContain('…');
    expect(cut!.endsWith('\u001b[39m')).toBe(true);
    expect(short).toBe('short');
    expect(fitWidth('abc', 0)).toBe('…');
  });
});

describe('formatSummary', () => {
  it('tabulates runs, failures, retries and p50/p99 per agent, then the outputs', () => {
    const summary = buildSummary({
      workflow: 'demo',
      status: 'completed',
      exitCode: 0,
      snapshot: snapshot({ elapsedMs: 2_345 }),
      timings: [
        { name: 'read', runs: 239, failed: 0, cancelled: 0, retries: 48, unfinished: 0, errors: [], p50Ms: 3, p99Ms: 41, maxMs: 50 },
        { name: 'digest', runs: 0, failed: 0, cancelled: 0, retries: 0, unfinished: 0, errors: [], p50Ms: undefined, p99Ms: undefined, maxMs: undefined },
      ],
      result: { outputs: [{ label: 'report', path: '.tmp/report.md' }], notes: ['239 documents'] },
    });
    expect(formatSummary(summary, plain).split('\n')).toEqual([
      'demo completed in 2.3 s: 42 artifacts published',
      '',
      '  agent   runs  failed  cancelled  retries   p50    p99',
      '  read     239       0          0       48  3 ms  41 ms',
      '  digest     0       0          0        0     -      -',
      '',
      '  239 documents',
      '',
      'report: .tmp/report.md',
    ]);
  });

  it('names runs that never ended, such as runs that ignored the abort', () => {
    const summary = buildSummary({
      workflow: 'demo',
      status: 'interrupted',
      exitCode: 130,
      snapshot: snapshot(),
      timings: [{ name: 'wait', runs: 0, failed: 0, cancelled: 3, retries: 0, unfinished: 2, errors: [], p50Ms: undefined, p99Ms: undefined, maxMs: undefined }],
    });
    expect(formatSummary(summary, plain)).toContain('runs that never ended (they ignored the abort past the grace period): 2 of wait');
  });

  it('points out expired joins and stopped loops the board published', () => {
    const summary = buildSummary({
      workflow: 'demo',
      status: 'completed',
      exitCode: 0,
      snapshot: snapshot({ publishedByType: { Doc: 3, JoinExpired: 2, LoopDetected: 1 } }),
      timings: [],
    });
    const text = formatSummary(summary, plain);
    expect(text).toContain('2 joins expired before every input arrived (JoinExpired on the board)');
    expect(text).toContain('1 agent run limit was reached (LoopDetected on the board)');
  });

  it('says per failing agent how many runs failed and with which errors, and where the dead letters are', () => {
    const summary = buildSummary({
      workflow: 'demo',
      status: 'failed',
      exitCode: 1,
      snapshot: snapshot(),
      timings: [
        { name: 'read', runs: 10, failed: 5, cancelled: 0, retries: 0, unfinished: 0, errors: [{ message: 'ENOENT: a.md', count: 3 }, { message: 'TypeError: x is not a function', count: 1 }], p50Ms: 1, p99Ms: 1, maxMs: 1 },
        { name: 'ok', runs: 3, failed: 0, cancelled: 0, retries: 0, unfinished: 0, errors: [], p50Ms: 1, p99Ms: 1, maxMs: 1 },
      ],
      store: new (class MemoryStore {})(),
    });
    const text = formatSummary(summary, plain);
    expect(text).toContain(
      [
        '  read: 5 runs failed for good',
        '    ENOENT: a.md (3x)',
        '    TypeError: x is not a function (1x)',
        '    and 1 with other errors',
        "  dead letters: 5 in the board's MemoryStore, which ends with this process: read them in the workflow's finish() with board.deadLetters(), or use a durable store",
        '  every failure with its error: run again with --trace <file>',
      ].join('\n'),
    );
    expect(text).not.toContain('ok:');
    expect(summary.deadLetters).toEqual({ count: 5, store: 'MemoryStore', durable: false });
  });

  it('names a durable store and the trace file when runs failed, and says nothing of dead letters when none did', () => {
    const timings = [{ name: 'read', runs: 1, failed: 1, cancelled: 0, retries: 0, unfinished: 0, errors: [{ message: 'boom', count: 1 }], p50Ms: 1, p99Ms: 1, maxMs: 1 }];
    const failed = buildSummary({ workflow: 'demo', status: 'failed', exitCode: 1, snapshot: snapshot(), timings, store: new (class SqliteStore {})(), trace: 'out/t.jsonl' });
    const text = formatSummary(failed, plain);
    expect(text).toContain("  dead letters: 1 in the board's SqliteStore: list them with board.deadLetters(), replay with board.replayDeadLetter(id)");
    expect(text).toContain('  every failure with its error is in the trace: out/t.jsonl');
    expect(text).toContain('    boom\n');
    const clean = buildSummary({ workflow: 'demo', status: 'completed', exitCode: 0, snapshot: snapshot(), timings: [] });
    expect(clean.deadLetters).toBeUndefined();
    expect(formatSummary(clean, plain)).not.toContain('dead letters');
  });

  it('says why a run stopped', () => {
    const summary = buildSummary({ workflow: 'demo', status: 'interrupted', exitCode: 130, snapshot: snapshot(), timings: [], reason: 'received SIGINT' });
    expect(formatSummary(summary, plain)).toMatch(/^demo interrupted in 1.5 s: 42 artifacts published\n {2}received SIGINT\n/);
    expect(summary).toMatchObject({ status: 'interrupted', exitCode: 130, outputs: [], reason: 'received SIGINT' });
  });
});

describe('format helpers', () => {
  it('formats durations and run times for people', () => {
    expect([formatDuration(850), formatDuration(3_400), formatDuration(125_000)]).toEqual(['850 ms', '3.4 s', '2m 05s']);
    expect([formatRunTime(undefined), formatRunTime(0), formatRunTime(12)]).toEqual(['-', '<1 ms', '12 ms']);
  });

  it('aligns columns whatever the colour codes', () => {
    const colors = palette(true);
    const lines = table([[colors.red('a'), '1'], ['bbb', colors.green('22')]]);
    expect(lines.map(visibleWidth)).toEqual([7, 7]);
  });

  it('colours a TTY unless NO_COLOR is set, and a pipe only if FORCE_COLOR is', () => {
    expect(colorFor({ isTTY: true }, {})).toBe(true);
    expect(colorFor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorFor({ isTTY: false }, {})).toBe(false);
    expect(colorFor({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
  });
});
