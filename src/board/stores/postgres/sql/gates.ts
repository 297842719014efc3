/** Statements on gates (AND gates, batches, joins). `s` is the quoted schema name. */

/**
 * Locks the gates a unit touches, creating the rows of new ones (state null) so that two units
 * opening the same gate serialise on its row. Keys come sorted, so units lock in one order and never
 * deadlock on gates. The no-op update makes the upsert lock and return existing rows too.
 */
export const lockGates = (s: string) => `
  insert into ${s}.gates (key) select unnest($1::text[])
  on conflict (key) do update set key = excluded.key
  returning key, state`;

export const writeGates = (s: string) => `
  update ${s}.gates g set state = t.state, deadline = t.deadline, version = t.version
  from unnest($1::text[], $2::jsonb[], $3::bigint[], $4::int[]) as t(key, state, deadline, version)
  where g.key = t.key`;

export const deleteGates = (s: string) => `
  delete from ${s}.gates where key = any($1::text[])`;

/** The gates holding an entry of a workflow ($1: the JSON such entries contain), locked, in key order. */
export const lockGatesOfWorkflow = (s: string) => `
  select key, state from ${s}.gates where state->'slots' @> $1::jsonb order by key for update`;

export const dueGates = (s: string) => `
  select state from ${s}.gates where deadline <= $1 order by deadline limit $2`;

/** The earliest gate deadline or embargo end (least() ignores a null). */
export const nextDeadline = (s: string) => `
  select least((select min(deadline) from ${s}.gates), (select min(visible_at) from ${s}.embargoes)) as deadline`;

/** Open gates in key order, optionally those holding an entry of a workflow ($1). */
export const listGates = (s: string) => `
  select state from ${s}.gates
  where state is not null and ($1::jsonb is null or state->'slots' @> $1::jsonb)
  order by key`;
