import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../artifact.js';
import { openDriver } from './open-driver.js';
import { SqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'skein-sqlite-share-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const worker = fileURLToPath(new URL('./fixtures/claim-worker.ts', import.meta.url));

/** Starts a claim worker; resolves when it is ready, with a function that lets it go and waits for its claims. */
function startWorker(path: string, owner: string, quota: number): Promise<{ go(): Promise<string[]> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, path, owner, String(quota)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const claims: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') {
        resolve({
          go: async () => {
            child.stdin.end('go\n');
            const code = await exited;
            // The process handle closes a turn of the event loop after 'close'.
            await new Promise((resolve) => setTimeout(resolve, 50));
            if (code !== 0) throw new Error(`worker ${owner} exited with ${code}`);
            return claims;
          },
        });
      } else claims.push((JSON.parse(line) as { run: string }).run);
    });
  });
}

describe('two processes on one SQLite file', () => {
  it('share the work of a chain: every run claimed once, every output applied once, the file intact', async () => {
    const path = join(dir, 'shared.db');
    const total = 300;
    {
      using store = new SqliteStore({ path });
      const now = Date.now();
      const writes = Array.from({ length: total }, (_, i) => {
        const artifact: Artifact = { id: `in-${i}`, type: 'Start', payload: i, producedBy: 'external', correlationId: `wf-${i % 7}`, tags: [], visibility: { kind: 'public' }, createdAt: new Date(now).toISOString(), causedBy: [] };
        return { artifact, runs: [{ id: `first-${i}`, agent: 'first', subscription: 0, inputIds: [artifact.id], correlationId: artifact.correlationId }], deposits: [] };
      });
      store.publish({ writes, now });
    }
    // Each process takes at most a third of the 600 claims, so all three work on the file at once
    // however the machine schedules them (without a quota, a fast process could take everything
    // before the others had read their go).
    const quota = (2 * total) / 3;
    const workers = await Promise.all([startWorker(path, 'a', quota), startWorker(path, 'b', quota), startWorker(path, 'c', quota)]);
    const claims = await Promise.all(workers.map((w) => w.go()));
    const all = claims.flat();
    expect(all).toHaveLength(2 * total);
    expect(new Set(all).size).toBe(2 * total);
    for (const mine of claims) expect(mine).toHaveLength(quota);

    using store = new SqliteStore({ path });
    expect(store.pending()).toEqual({ queued: 0, paused: 0, running: 0, timedGates: 0 });
    expect(store.list({ type: 'Step' }).map((a) => (a.payload as { from: string }).from).sort()).toEqual(Array.from({ length: total }, (_, i) => `first-${i}`).sort());
    const db = openDriver({ path });
    expect(db.prepare('PRAGMA integrity_check').get()?.integrity_check).toBe('ok');
    db.close();
  }, 60_000);
});
