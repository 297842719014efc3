import { afterEach, describe, expect, it } from 'vitest';
import type { Artifact } from '../../artifact.js';
import type { ArtifactWrite, ClaimedRun } from '../../store/contract.js';
import { gateKey } from '../../store/gate-state.js';
import { PostgresStore } from './postgres-store.js';
import { dropSchema, endPool, freshSchema, openTestStore, POSTGRES_URL } from './test-schema.js';
import type { StoreNotice } from './wake-listener.js';

const T0 = Date.UTC(2026, 0, 1);

const artifact = (id: string, overrides: Partial<Artifact> = {}): Artifact => ({
  id,
  type: 'Note',
  payload: { id },
  producedBy: 'external',
  correlationId: 'wf',
  tags: [],
  visibility: { kind: 'public' },
  createdAt: new Date(T0).toISOString(),
  causedBy: [],
  ...overrides,
});

const scheduled = (id: string, agent = 'worker'): ArtifactWrite => ({
  artifact: artifact(id),
  runs: [{ id: `run-${id}`, agent, subscription: 0, inputIds: [id], correlationId: 'wf' }],
  deposits: [],
});

const ref = (run: ClaimedRun) => ({ runId: run.id, owner: run.owner, attempt: run.attempt });

describe.skipIf(POSTGRES_URL === undefined)('PostgresStore under concurrency', () => {
  const opened: PostgresStore[] = [];
  const schemas: string[] = [];
  /** `count` stores on one schema, as separate workers would open it. */
  const workers = async (count: number): Promise<PostgresStore[]> => {
    const schema = freshSchema();
    schemas.push(schema);
    const stores = await Promise.all(Array.from({ length: count }, () => PostgresStore.open({ connectionString: POSTGRES_URL!, schema, poolSize: 2 })));
    opened.push(...stores);
    return stores;
  };

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    for (const schema of schemas.splice(0)) await dropSchema(schema);
  });

  it('applies each migration once when workers open a new schema together', async () => {
    const stores = await workers(6);
    expect(await stores[0]!.listRuns()).toEqual([]);
    // Every store opened; the migrations table holds each version once.
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query(`select version, count(*)::int as n from "${stores[0]!.schema}".migrations group by version`);
      expect(rows.every((row: { n: number }) => row.n === 1)).toBe(true);
      expect(rows.length).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
  });

  it('brings a schema of version 4 with queued and running runs to version 5, whose claims keep the queue order of each agent', async () => {
    const [old] = await workers(1);
    const schema = old!.schema;
    await old!.publish({ writes: Array.from({ length: 6 }, (_, i) => scheduled(`m${i}`, i % 2 === 0 ? 'even' : 'odd')), now: T0 });
    const running = (await old!.claim({ owner: 'before', agents: ['even'], limit: 1, leaseMs: 60_000, now: T0 }))[0]!;
    // The schema as version 4 left it: its claim index, its index of running runs by owner.
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      await admin.query(`drop index "${schema}".runs_claimable`);
      await admin.query(`create index runs_queued on "${schema}".runs (queue_pos) where state = 'queued'`);
      await admin.query(`create index runs_owner_idx on "${schema}".runs (owner) where state = 'running'`);
      // Later migrations are undone too, so that opening applies 5 and what follows it.
      await admin.query(`drop table "${schema}".embargoes`);
      await admin.query(`delete from "${schema}".migrations where version >= 5`);
      const upgraded = await PostgresStore.open({ connectionString: POSTGRES_URL!, schema, poolSize: 2 });
      opened.push(upgraded);
      const { rows } = await admin.query(`select indexname from pg_indexes where schemaname = $1 and tablename = 'runs' order by indexname`, [schema]);
      expect(rows.map((row: { indexname: string }) => row.indexname)).toContain('runs_claimable');
      expect(rows.map((row: { indexname: string }) => row.indexname)).not.toContain('runs_queued');
      const claim = async (agents: string[], limit: number) =>
        (await upgraded.claim({ owner: 'after', agents, limit, leaseMs: 60_000, now: T0 })).map((run) => run.id);
      expect(await claim(['odd'], 2)).toEqual(['run-m1', 'run-m3']);
      expect(await claim(['even', 'odd'], 5)).toEqual(['run-m2', 'run-m4', 'run-m5']);
      expect((await upgraded.requeueExpired(T0 + 120_000, {})).map((run) => run.id)).toContain(running.id);
    } finally {
      await admin.end();
    }
  });

  it('never hands the same run to two concurrent claims', async () => {
    const stores = await workers(4);
    const writes = Array.from({ length: 300 }, (_, i) => scheduled(`a${i}`));
    await stores[0]!.publish({ writes, now: T0 });
    const claimedBy = await Promise.all(
      stores.flatMap((store, w) =>
        [0, 1].map(async (lane) => {
          const mine: string[] = [];
          for (;;) {
            const batch = await store.claim({ owner: `w${w}.${lane}`, agents: ['worker'], limit: 7, leaseMs: 60_000, now: T0 });
            if (batch.length === 0) return mine;
            mine.push(...batch.map((run) => run.id));
          }
        }),
      ),
    );
    const all = claimedBy.flat();
    expect(all).toHaveLength(300);
    expect(new Set(all).size).toBe(300);
    expect(claimedBy.filter((ids) => ids.length > 0).length).toBeGreaterThan(1);
  });

  it('applies nothing of a completion whose lease was lost, however the race with the new owner ends', async () => {
    const [slow, fast] = await workers(2);
    const writes = Array.from({ length: 40 }, (_, i) => scheduled(`a${i}`));
    await slow!.publish({ writes, now: T0 });
    const first = await slow!.claim({ owner: 'slow', agents: ['worker'], limit: 40, leaseMs: 10, now: T0 });
    expect(first).toHaveLength(40);
    // The fast worker requeues the expired leases and claims them again while the slow one completes.
    const requeue = (async () => {
      await fast!.requeueExpired(T0 + 100);
      // A claim skips rows locked by the slow worker's completions in flight (SKIP LOCKED): claim
      // again until none is left queued, as a worker's next poll would.
      const again = [];
      do again.push(...(await fast!.claim({ owner: 'fast', agents: ['worker'], limit: 40, leaseMs: 60_000, now: T0 + 100 })));
      while ((await fast!.pending()).queued > 0);
      return Promise.all(again.map((run) => fast!.complete(ref(run), { outcome: 'finished', outputs: [{ index: 0, artifact: artifact(`fast-${run.id}`, { producedBy: 'worker' }), runs: [], deposits: [] }] }, T0 + 200)));
    })();
    const late = Promise.all(first.map((run) => slow!.complete(ref(run), { outcome: 'finished', outputs: [{ index: 0, artifact: artifact(`slow-${run.id}`, { producedBy: 'worker' }), runs: [], deposits: [] }] }, T0 + 200)));
    const [fastResults, slowResults] = await Promise.all([requeue, late]);
    const outputs = await slow!.list({ producedBy: 'worker' });
    // Each run applied exactly one output: the slow worker's when it completed before the requeue, else the fast one's.
    expect(outputs).toHaveLength(40);
    const applied = slowResults.filter((r) => r.status === 'applied').length + fastResults.filter((r) => r.status === 'applied').length;
    expect(applied).toBe(40);
    expect(await slow!.pending()).toEqual({ queued: 0, paused: 0, running: 0, timedGates: 0 });
  });

  it('forms each join group once when both sides arrive from different workers at once', async () => {
    const stores = await workers(4);
    const key = gateKey('pair', 0, { correlationId: 'wf' });
    const gate = { key, agent: 'pair', subscription: 0, kind: 'and', typeNames: ['Left', 'Right'] } as const;
    const deposit = (id: string, type: 'Left' | 'Right'): ArtifactWrite => ({
      artifact: artifact(id, { type }),
      runs: [],
      deposits: [{ ...gate, positions: [type === 'Left' ? 0 : 1], artifactId: id, correlationId: 'wf', runId: `run-${id}` }],
    });
    await Promise.all(
      Array.from({ length: 120 }, (_, i) => stores[i % 4]!.publish({ writes: [deposit(`x${i}`, i % 2 === 0 ? 'Left' : 'Right')], now: T0 })),
    );
    const runs = await stores[0]!.listRuns({ agent: 'pair' });
    expect(runs).toHaveLength(60);
    const inputs = runs.flatMap((run) => run.inputIds);
    expect(new Set(inputs).size).toBe(120);
    expect(await stores[0]!.listGates()).toEqual([]);
  });

  it('tells other workers that runs were queued and that a workflow was cancelled', async () => {
    const [listener, publisher] = await workers(2);
    const notices: StoreNotice[] = [];
    let heard: () => void = () => {};
    const both = new Promise<void>((resolve) => (heard = resolve));
    const stop = await listener!.onNotice((notice) => {
      notices.push(notice);
      if (notices.length === 2) heard();
    });
    await publisher!.publish({ writes: [scheduled('n1', 'billing')], now: T0 });
    await publisher!.setWorkflowState('wf', 'cancelled');
    await both;
    stop();
    expect(notices).toEqual([
      { kind: 'runs', agents: ['billing'] },
      { kind: 'workflow', state: 'cancelled', correlationId: 'wf' },
    ]);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(PostgresStore.open({ connectionString: POSTGRES_URL!, schema: 'x"; drop table y; --' })).rejects.toThrow(TypeError);
  });

  it('opens on your own pool and leaves it open on close', async () => {
    const pg = (await import('pg')).default;
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    const store = await openTestStore({ pool, connectionString: undefined });
    await store.close();
    const { rows } = await pool.query('select 1 as one');
    expect(rows).toEqual([{ one: 1 }]);
    await endPool(pool);
  });
});
