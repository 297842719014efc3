/** Statements on loop counters: runs per (workflow, agent), counted across idle periods and processes. */

/** Locks (creating at 0) the counters of the given (workflow, agent) pairs, distinct and sorted. */
export const lockCounters = (s: string) => `
  insert into ${s}.loop_counters (correlation_id, agent)
  select * from unnest($1::text[], $2::text[])
  on conflict (correlation_id, agent) do update set count = ${s}.loop_counters.count
  returning correlation_id, agent, count, reported`;

export const writeCounters = (s: string) => `
  update ${s}.loop_counters c set count = t.count, reported = t.reported
  from unnest($1::text[], $2::text[], $3::int[], $4::boolean[]) as t(correlation_id, agent, count, reported)
  where c.correlation_id = t.correlation_id and c.agent = t.agent`;
