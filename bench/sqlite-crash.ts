/**
 * The long crash test: the board of `src/board/stores/sqlite/crash.test.ts` on a SQLite file, 200
 * processes killed with SIGKILL at random moments (one in ten during start-up), then compared with an
 * uninterrupted run of the same board on the memory store.
 *
 * Usage: npx tsx bench/sqlite-crash.ts [kills=200] [orders=1500]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Board } from '../src/board/index.js';
import { declareCrashAgents, outcome, publishOrders } from '../src/board/stores/sqlite/fixtures/crash-board.js';
import { bundleWorker, crashRun } from '../src/board/stores/sqlite/fixtures/crash-run.js';
import { openDriver } from '../src/board/stores/sqlite/open-driver.js';
import { SqliteStore } from '../src/board/stores/sqlite/sqlite-store.js';

const kills = Number(process.argv[2] ?? 200);
const orders = Number(process.argv[3] ?? 1500);
const dir = mkdtempSync(join(tmpdir(), 'skein-crash-bench-'));
const worker = await bundleWorker();
try {
  const memory = new Board();
  declareCrashAgents(memory, 0);
  await publishOrders(memory, orders);
  await memory.runUntilIdle();
  const expected = await outcome(memory.store);
  const runs = Object.values(memory.stats().agents).reduce((total, agent) => total + agent.done + agent.failed, 0);
  await memory.shutdown();
  const path = join(dir, 'crash.db');
  const report = await crashRun(worker, { path, orders, paceMs: 2, kills, maxKillDelayMs: 400, startupKillEvery: 10, runs });
  const store = new SqliteStore({ path });
  const actual = await outcome(store);
  store.close();
  const db = openDriver({ path });
  const integrity = db.prepare('PRAGMA integrity_check').get()?.integrity_check;
  db.close();
  const count = (lines: string[]) => {
    const counts = new Map<string, number>();
    for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
    return counts;
  };
  const want = count(expected);
  const got = count(actual);
  let lost = 0;
  let duplicated = 0;
  for (const [line, n] of want) lost += Math.max(0, n - (got.get(line) ?? 0));
  for (const [line, n] of got) duplicated += Math.max(0, n - (want.get(line) ?? 0));
  const deadLetters = expected.filter((line) => line.startsWith('dead letter')).length;
  const deadFound = actual.filter((line) => line.startsWith('dead letter')).length;
  console.log(`orders ${orders}, outcome lines ${expected.length}`);
  console.log(`kills ${report.kills} (${report.startupKills} during start-up), processes ${report.processes}, runs run again ${report.reruns}, outputs skipped as already applied ${report.duplicatesSkipped}`);
  console.log(`lost ${lost}, duplicated ${duplicated}, dead letters ${deadFound} of ${deadLetters}, integrity ${String(integrity)}, ${(report.elapsedMs / 1000).toFixed(1)} s`);
  process.exitCode = lost === 0 && duplicated === 0 && integrity === 'ok' ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
  rmSync(worker, { force: true });
}
