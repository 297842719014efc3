import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../artifact.js';
import { describeStoreContract } from '../store-contract.js';
import { MIGRATIONS, migrate, NewerSchemaError, SCHEMA_VERSION } from './migrations.js';
import { nodeSqliteAvailable } from './node-sqlite-driver.js';
import { openDriver } from './open-driver.js';
import { parseSqliteUrl } from './options.js';
import { SqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'skein-sqlite-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract('SqliteStore (file, WAL)', () => new SqliteStore({ path: join(dir, `contract-${++files}.db`) }));
describeStoreContract('SqliteStore (:memory:)', () => new SqliteStore({ path: ':memory:' }));

const T0 = Date.UTC(2026, 0, 1);
const note = (id: string, correlationId = 'wf'): Artifact => ({
  id,
  type: 'Note',
  payload: { id },
  producedBy: 'external',
  correlationId,
  tags: [],
  visibility: { kind: 'public' },
  createdAt: new Date(T0).toISOString(),
  causedBy: [],
});
const scheduled = (id: string, agent = 'worker', correlationId = 'wf') => ({
  artifact: note(id, correlationId),
  runs: [{ id: `run-${id}`, agent, subscription: 0, inputIds: [id], correlationId }],
  deposits: [],
});
const file = () => join(dir, `case-${++files}.db`);

describe('SqliteStore', () => {
  it('answers every unit synchronously', () => {
    using store = new SqliteStore({ path: ':memory:' });
    const result = store.publish({ writes: [scheduled('a')], now: T0 });
    expect(result).not.toBeInstanceOf(Promise);
    expect(store.claim({ owner: 'me', agents: ['worker'], limit: 1, leaseMs: 1, now: T0 })).toHaveLength(1);
  });

  it('keeps artifacts, queued runs, gates and workflow states when the file is closed and opened again', () => {
    const path = file();
    const first = new SqliteStore({ path });
    const batch = { key: 'sum/0/wf:wf', agent: 'sum', subscription: 0, kind: 'batch', typeNames: ['Note'], batchSize: 5, windowMs: 1000, positions: [0] } as const;
    first.publish({ writes: [scheduled('a'), { artifact: note('b'), runs: [], deposits: [{ ...batch, artifactId: 'b', correlationId: 'wf', runId: 'r-batch' }] }], now: T0 });
    first.setWorkflowState('other', 'paused');
    first.close();
    using second = new SqliteStore(`sqlite:${path}`);
    expect(second.list().map((a) => a.id)).toEqual(['a', 'b']);
    expect(second.listRuns().map((r) => [r.id, r.state])).toEqual([['run-a', 'queued']]);
    expect(second.listGates().map((g) => [g.key, g.deadline])).toEqual([[batch.key, T0 + 1000]]);
    expect(second.nextDeadline()).toBe(T0 + 1000);
    expect(second.listWorkflowStates()).toEqual([{ correlationId: 'other', state: 'paused' }]);
  });

  it('uses the WAL journal with synchronous NORMAL by default, and FULL on request', () => {
    const path = file();
    new SqliteStore({ path }).close();
    const pragma = (synchronous?: 'NORMAL' | 'FULL') => {
      const db = openDriver({ path });
      db.exec(`PRAGMA synchronous = ${synchronous ?? 'NORMAL'}`);
      const answer = [db.prepare('PRAGMA journal_mode').get()?.journal_mode, db.prepare('PRAGMA synchronous').get()?.synchronous];
      db.close();
      return answer;
    };
    expect(pragma()).toEqual(['wal', 1]);
    expect(pragma('FULL')).toEqual(['wal', 2]);
    using store = new SqliteStore({ path, synchronous: 'FULL' });
    expect(store.options).toEqual({ path, synchronous: 'FULL', busyTimeoutMs: 5_000, driver: 'auto' });
  });

  it('applies each migration once and records it', () => {
    const path = file();
    new SqliteStore({ path }).close();
    new SqliteStore({ path }).close();
    const db = openDriver({ path });
    expect(db.prepare('SELECT version FROM skein_schema').all().map((row) => row.version)).toEqual(MIGRATIONS.map((migration) => migration.version));
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  it('brings a file of schema version 1 up to date: it gains the timers table and the key/value space', () => {
    const path = file();
    const db = openDriver({ path });
    expect(migrate(db, MIGRATIONS.slice(0, 1))).toEqual([1]);
    db.close();
    using store = new SqliteStore({ path });
    expect(store.registerTimer({ name: 'clock', fingerprint: 'x', firstDueAt: 100 })).toMatchObject({ name: 'clock', nextDueAt: 100, ticks: 0, version: 1 });
    store.putValue('ns', 'k', { kept: true });
    expect(store.listValues('ns')).toEqual([{ key: 'k', value: { kept: true } }]);
    const again = openDriver({ path });
    expect(again.prepare('SELECT max(version) AS v FROM skein_schema').get()?.v).toBe(SCHEMA_VERSION);
    again.close();
  });

  it('refuses a database written by a newer skein, naming both schema versions', () => {
    const path = file();
    new SqliteStore({ path }).close();
    const db = openDriver({ path });
    db.prepare('INSERT INTO skein_schema (version, description, applied_at) VALUES (?, ?, ?)').run([SCHEMA_VERSION + 1, 'from the future', new Date().toISOString()]);
    db.close();
    expect(() => new SqliteStore({ path })).toThrow(NewerSchemaError);
    expect(() => new SqliteStore({ path })).toThrow(`schema version ${SCHEMA_VERSION + 1}; this skein knows versions up to ${SCHEMA_VERSION}`);
  });

  it('requeues the runs of an owner whose process is gone at once, and leaves a live owner\'s runs to their leases', () => {
    const path = file();
    using store = new SqliteStore({ path });
    store.publish({ writes: [scheduled('a'), scheduled('b')], now: T0 });
    store.claim({ owner: 'alive', agents: ['worker'], limit: 1, leaseMs: 60_000, now: T0 });
    store.claim({ owner: 'dead', agents: ['worker'], limit: 1, leaseMs: 60_000, now: T0 });
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const db = openDriver({ path });
    db.prepare('UPDATE owners SET pid = ? WHERE owner = ?').run([Number(gone.stdout), 'dead']);
    db.close();
    expect(store.requeueExpired(T0 + 1).map((r) => [r.id, r.attempt])).toEqual([['run-b', 1]]);
    expect(store.listRuns({ state: 'running' }).map((r) => r.owner)).toEqual(['alive']);
  });

  it('hands no run to two owners claiming from two connections to one file', () => {
    const path = file();
    using a = new SqliteStore({ path });
    using b = new SqliteStore({ path });
    a.publish({ writes: Array.from({ length: 50 }, (_, i) => scheduled(`n${i}`)), now: T0 });
    const claimed: string[] = [];
    for (let i = 0; i < 30; i++) {
      for (const [store, owner] of [[a, 'a'], [b, 'b']] as const) claimed.push(...store.claim({ owner, agents: ['worker'], limit: 2, leaseMs: 1000, now: T0 }).map((r) => r.id));
    }
    expect(claimed).toHaveLength(50);
    expect(new Set(claimed).size).toBe(50);
  });

  it('checks its options, naming what is allowed', () => {
    expect(() => new SqliteStore({ path: '' })).toThrow(TypeError);
    expect(() => new SqliteStore({ path: ':memory:', synchronous: 'OFF' as 'FULL' })).toThrow("synchronous must be 'NORMAL' or 'FULL'");
    expect(() => new SqliteStore({ path: ':memory:', busyTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => new SqliteStore('postgres://x')).toThrow('starts with "sqlite:"');
    expect(() => new SqliteStore('sqlite::memory:?cache=shared')).toThrow('unknown SQLite store URL parameter "cache"');
  });

  it('reads store URLs with their parameters', () => {
    expect(parseSqliteUrl('sqlite:./run.db')).toEqual({ path: './run.db' });
    expect(parseSqliteUrl('sqlite:///var/lib/run.db?synchronous=full&busyTimeoutMs=100')).toEqual({ path: '/var/lib/run.db', synchronous: 'FULL', busyTimeoutMs: 100 });
    expect(parseSqliteUrl('sqlite::memory:?driver=libsql')).toEqual({ path: ':memory:', driver: 'libsql' });
    using plain = new SqliteStore(':memory:');
    expect(plain.options.path).toBe(':memory:');
  });

  it('writes a consistent backup that opens as a store', () => {
    using store = new SqliteStore({ path: file() });
    store.publish({ writes: [scheduled('a')], now: T0 });
    const copy = file();
    store.backup(copy);
    using restored = new SqliteStore({ path: copy });
    expect(restored.list().map((a) => a.id)).toEqual(['a']);
    expect(restored.listRuns().map((r) => r.id)).toEqual(['run-a']);
  });

  it('can be closed twice, and is closed by await using', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    store.close();
    store.close();
    {
      await using disposable = new SqliteStore({ path: ':memory:' });
      disposable.pending();
    }
  });
});

describe.runIf(nodeSqliteAvailable())('SqliteStore on node:sqlite', () => {
  describeStoreContract('SqliteStore (node:sqlite)', () => new SqliteStore({ path: join(dir, `node-${++files}.db`), driver: 'node:sqlite' }));
});
