/**
 * Versioned schema migrations. Each migration is a list of statements applied in one transaction,
 * recorded in `<schema>.migrations`; opening a store applies those not yet recorded. Every opening
 * takes a transaction-level advisory lock keyed by the schema name first, so workers that start
 * together apply each migration once, in order, and a worker that finds them applied goes on at once.
 *
 * Migrations are append-only: a released one is never edited; a change is a new version. A worker
 * whose code knows fewer migrations than the schema has refuses to start (it would misread rows).
 */
import type { PostgresClient, PostgresPool } from './connection.js';
import { inTransaction } from './transaction.js';

/** One version: statements with `:schema` standing for the quoted schema name. */
interface Migration {
  readonly version: number;
  readonly statements: readonly string[];
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    statements: [
      `create table :schema.artifacts (
         seq bigserial primary key,
         id text not null unique,
         type text not null,
         correlation_id text not null,
         produced_by text not null,
         created_at text not null,
         body json not null
       )`,
      // json, not jsonb: an artifact reads back exactly as it was stored, its keys in their order.
      `create index on :schema.artifacts (type, seq)`,
      `create index on :schema.artifacts (correlation_id, seq)`,
      // queue_pos orders a queue: new runs take the next value of runs_queue_pos_seq, runs handed back
      // take ever smaller negative values (run_head_seq), so they go to the head.
      `create sequence :schema.run_head_seq`,
      `create table :schema.runs (
         id text primary key,
         agent text not null,
         subscription integer not null,
         input_ids jsonb not null,
         correlation_id text not null,
         enqueued_at bigint not null,
         replay_of text,
         state text not null check (state in ('queued', 'running')),
         attempt integer not null default 0,
         owner text,
         lease_until bigint,
         queue_pos bigserial not null
       )`,
      `create index runs_queued on :schema.runs (queue_pos) where state = 'queued'`,
      `create index runs_leases on :schema.runs (lease_until) where state = 'running'`,
      `create index on :schema.runs (correlation_id)`,
      `create index on :schema.runs (owner) where state = 'running'`,
      // The outputs a run applied, across its attempts: a run executed again never applies one twice.
      `create table :schema.outputs (
         run_id text not null,
         index integer not null,
         primary key (run_id, index)
       )`,
      `create table :schema.workflows (
         correlation_id text primary key,
         state text not null check (state in ('active', 'paused', 'cancelled'))
       )`,
      `create table :schema.loop_counters (
         correlation_id text not null,
         agent text not null,
         count integer not null default 0,
         reported boolean not null default false,
         primary key (correlation_id, agent)
       )`,
      // A gate's state is the JSON record of gate-state.ts; state is null for a row inserted only to be locked.
      `create table :schema.gates (
         key text primary key,
         state jsonb,
         deadline bigint,
         version integer not null default 0
       )`,
      `create index gates_deadlines on :schema.gates (deadline) where deadline is not null`,
      `create table :schema.dead_letters (
         seq bigserial primary key,
         id text not null unique,
         agent text not null,
         correlation_id text not null,
         body json not null
       )`,
    ],
  },
  {
    version: 2,
    statements: [
      `create table :schema.timers (
         name text primary key,
         fingerprint text not null,
         workflow text,
         next_due_at bigint,
         ticks integer not null,
         version integer not null
       )`,
      `create index timers_by_due on :schema.timers (next_due_at) where next_due_at is not null`,
    ],
  },
  {
    // A key/value space beside the board (a server's webhook subscriptions and failed deliveries).
    version: 3,
    statements: [
      `create table :schema.kv_values (
         seq bigserial primary key,
         namespace text not null,
         key text not null,
         value json not null,
         unique (namespace, key)
       )`,
    ],
  },
  {
    // Admission control: the workflows admitted under maxActiveWorkflows, across every board of the schema.
    version: 4,
    statements: [
      `create table :schema.admitted_workflows (
         correlation_id text primary key,
         input_id text not null,
         reserved_until bigint not null
       )`,
    ],
  },
  {
    // Claims ask for one agent's oldest queued runs: an index by (agent, queue_pos) stops at the first
    // runs of that agent, where runs_queued made every claim read and sort all queued runs. The index
    // of running runs by owner goes: every claim paid an entry in it, for a requeue at shutdown that
    // finds a worker's runs among the running ones (runs_leases) as well.
    version: 5,
    statements: [
      `create index runs_claimable on :schema.runs (agent, queue_pos) where state = 'queued'`,
      `drop index :schema.runs_queued`,
      `drop index :schema.runs_owner_idx`,
    ],
  },
  {
    // Artifacts held under an embargo until they become visible; a release deletes the row and stores the artifact in one unit.
    version: 6,
    statements: [
      `create table :schema.embargoes (
         id text primary key,
         correlation_id text not null,
         visible_at bigint not null,
         body json not null
       )`,
      `create index embargoes_by_end on :schema.embargoes (visible_at)`,
      `create index embargoes_by_workflow on :schema.embargoes (correlation_id)`,
    ],
  },
];

/**
 * The newest schema version this code knows.
 *
 * @example
 * ```ts no-run
 * import { SCHEMA_VERSION } from 'skein/board/postgres';
 * // select max(version) from skein.migrations  -- equals SCHEMA_VERSION once every worker is upgraded
 * ```
 */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Quotes a schema name after checking it is a plain identifier. */
export function quoteSchema(schema: string): string {
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new TypeError(`schema must be a lower-case identifier of at most 63 letters, digits and underscores, got ${JSON.stringify(schema)}`);
  }
  return `"${schema}"`;
}

/**
 * Applies the migrations `schema` lacks, under an advisory lock; answers the versions it applied.
 *
 * @example
 * ```ts no-run
 * import { migrate } from 'skein/board/postgres';
 * await migrate(pool, 'skein'); // what PostgresStore.open does first (a deploy step may run it alone)
 * ```
 */
export async function migrate(pool: PostgresPool, schema: string): Promise<number[]> {
  const quoted = quoteSchema(schema);
  return inTransaction(pool, async (client) => {
    await client.query({ text: `select pg_advisory_xact_lock(hashtext($1))`, values: [`skein:migrate:${schema}`] });
    await client.query({ text: `create schema if not exists ${quoted}` });
    await client.query({ text: `create table if not exists ${quoted}.migrations (version integer primary key, applied_at timestamptz not null default now())` });
    const applied = await currentVersion(client, quoted);
    if (applied > SCHEMA_VERSION) {
      throw new Error(`schema ${schema} is at version ${applied}, newer than this skein knows (${SCHEMA_VERSION}): upgrade skein on this worker`);
    }
    const done: number[] = [];
    for (const migration of MIGRATIONS) {
      if (migration.version <= applied) continue;
      for (const statement of migration.statements) await client.query({ text: statement.replaceAll(':schema', quoted) });
      await client.query({ text: `insert into ${quoted}.migrations (version) values ($1)`, values: [migration.version] });
      done.push(migration.version);
    }
    return done;
  });
}

async function currentVersion(client: PostgresClient, quoted: string): Promise<number> {
  const { rows } = await client.query({ text: `select coalesce(max(version), 0) as version from ${quoted}.migrations` });
  return Number((rows[0] as { version: unknown }).version);
}
