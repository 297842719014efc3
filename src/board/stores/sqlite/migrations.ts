/**
 * The schema, as a list of versioned migrations applied in order when a store opens a database. A
 * migration is never edited once released: a change to the schema is a new migration at the end.
 * The applied versions are recorded in `skein_schema`; a database that records a version this skein
 * does not know was written by a newer skein, and is refused rather than misread.
 *
 * Tables (migration 1):
 * - `artifacts`: one row per artifact, the artifact itself as JSON in `body`, with the columns that
 *   queries filter on; `seq` is publication order.
 * - `runs`: queued and running runs; a run's row is deleted when it ends. `seq` is queue order.
 *   Few indexes on purpose: a claim rewrites only the row and its queue index entry, so that each
 *   commit writes few pages (running runs are found by a scan, which only recovery and sweeps do).
 * - `applied_outputs`: (run, output index) pairs a streaming run has applied, so that a run executed
 *   again never applies an output twice.
 * - `gates`: one row per AND gate, batch or join, its state as JSON (the pure gate logic works on
 *   it), with its deadline and version as columns; `gate_workflows` says which workflows it holds.
 *   A gate that empties keeps its row (`open = 0`) so that its version keeps growing when it opens
 *   again: a process holding a due gate's old version can never close the new one by mistake.
 * - `workflows`: workflows that are paused or cancelled (active ones have no row).
 * - `run_counters`: runs per (workflow, agent), for the run limit.
 * - `dead_letters`: runs that failed for good.
 * - `owners`: which process (host, pid) claims under which owner name, so that a board can tell that
 *   the owner of running runs is gone and requeue them without waiting for their leases.
 *
 * Tables (migration 2):
 * - `timers`: one row per scheduled agent: its schedule's fingerprint, its workflow, its next slot
 *   (null once done), its tick count and the version that guards firing it.
 * Migration 3: `kv_values`, the key/value space (`listValues`, `putValue`, `deleteValue`), in
 * namespaces, `seq` keeping the order entries were first put.
 * Migration 4: `embargoes`, artifacts held apart until their embargo ends (`visible_at`, epoch ms),
 * the artifact as JSON in `body`; a release deletes the row and stores the artifact in one unit.
 */
import type { SqliteDriver } from './driver.js';

/** One step of the schema: the SQL that brings a database from the previous version to `version`. */
export interface Migration {
  /** Its version, greater than the previous migration's: a database whose latest recorded version is lower gets it. */
  readonly version: number;
  /** What it changes, recorded with the version. */
  readonly description: string;
  /** The statements it runs, inside {@link migrate}'s transaction. */
  readonly sql: string;
}

/** Every migration this skein knows, oldest first: {@link migrate} applies those a database lacks. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'board store: artifacts, runs, gates, workflows, run counters, dead letters, owners',
    sql: `
      CREATE TABLE artifacts (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        produced_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX artifacts_by_type ON artifacts (type, seq);
      CREATE INDEX artifacts_by_workflow ON artifacts (correlation_id, seq);

      CREATE TABLE runs (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        agent TEXT NOT NULL,
        subscription INTEGER NOT NULL,
        input_ids TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        enqueued_at INTEGER NOT NULL,
        replay_of TEXT,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running')),
        attempt INTEGER NOT NULL DEFAULT 0,
        owner TEXT,
        lease_until INTEGER,
        has_outputs INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX runs_queued ON runs (agent, seq) WHERE state = 'queued';
      CREATE INDEX runs_by_workflow ON runs (correlation_id);

      CREATE TABLE applied_outputs (
        run_id TEXT NOT NULL,
        output_index INTEGER NOT NULL,
        PRIMARY KEY (run_id, output_index)
      ) WITHOUT ROWID;

      CREATE TABLE gates (
        seq INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL,
        open INTEGER NOT NULL,
        deadline INTEGER,
        version INTEGER NOT NULL
      );
      CREATE INDEX gates_by_deadline ON gates (deadline) WHERE deadline IS NOT NULL;
      CREATE TABLE gate_workflows (
        correlation_id TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (correlation_id, key)
      ) WITHOUT ROWID;

      CREATE TABLE workflows (
        seq INTEGER PRIMARY KEY,
        correlation_id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL CHECK (state IN ('paused', 'cancelled'))
      );

      CREATE TABLE run_counters (
        correlation_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        count INTEGER NOT NULL,
        reported INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (correlation_id, agent)
      ) WITHOUT ROWID;

      CREATE TABLE dead_letters (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        agent TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        body TEXT NOT NULL
      );

      CREATE TABLE owners (
        owner TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        seen_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: 'timers of scheduled agents',
    sql: `
      CREATE TABLE timers (
        name TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        workflow TEXT,
        next_due_at INTEGER,
        ticks INTEGER NOT NULL,
        version INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX timers_by_due ON timers (next_due_at) WHERE next_due_at IS NOT NULL;
    `,
  },
  {
    version: 3,
    description: 'a key/value space beside the board (a server\'s webhook subscriptions and failed deliveries)',
    sql: `
      CREATE TABLE kv_values (
        seq INTEGER PRIMARY KEY,
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        UNIQUE (namespace, key)
      );
    `,
  },
  {
    version: 4,
    description: 'admission control: the workflows admitted under maxActiveWorkflows, across every board of the store',
    sql: `
      CREATE TABLE admitted_workflows (
        correlation_id TEXT PRIMARY KEY,
        input_id TEXT NOT NULL,
        reserved_until INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    description: 'artifacts held under an embargo until they become visible',
    sql: `
      CREATE TABLE embargoes (
        id TEXT PRIMARY KEY,
        correlation_id TEXT NOT NULL,
        visible_at INTEGER NOT NULL,
        body TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX embargoes_by_end ON embargoes (visible_at);
      CREATE INDEX embargoes_by_workflow ON embargoes (correlation_id);
    `,
  },
];

/**
 * The database was written by a newer skein: its schema has versions this one does not know.
 *
 * @example
 * ```ts
 * import { SqliteStore, NewerSchemaError } from 'skein/board/sqlite';
 * try {
 *   new SqliteStore({ path: ':memory:' }).close();
 * } catch (error) {
 *   if (error instanceof NewerSchemaError) console.error(`upgrade skein: ${error.message}`);
 * }
 * ```
 */
export class NewerSchemaError extends Error {
  override readonly name = 'NewerSchemaError';
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`this database was written by a newer skein (schema version ${found}; this skein knows versions up to ${known}): open it with that skein or a later one`);
  }
}

/** The latest schema version this skein writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings the database to {@link SCHEMA_VERSION} in one transaction (two processes opening a new file
 * at once apply each migration once), or throws {@link NewerSchemaError}. Answers the versions applied.
 */
export function migrate(db: SqliteDriver, migrations: readonly Migration[] = MIGRATIONS, now = Date.now()): number[] {
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  return db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS skein_schema (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const row = db.prepare('SELECT max(version) AS version FROM skein_schema').get();
    const current = Number(row?.version ?? 0);
    if (current > latest) throw new NewerSchemaError(current, latest);
    const applied: number[] = [];
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.prepare('INSERT INTO skein_schema (version, description, applied_at) VALUES (?, ?, ?)').run([migration.version, migration.description, new Date(now).toISOString()]);
      applied.push(migration.version);
    }
    return applied;
  });
}
